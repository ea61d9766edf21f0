"""Two tabs sending a learner's first message at once still make one conversation (PostgreSQL)."""

import pytest

from lessons_app import chat, services
from lessons_app.models import Conversation, Message
from lessons_app.tests.chat_helpers import make_lesson

ROUNDS = 15


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_concurrent_first_messages_share_one_conversation(
    postgres_db, run_together, django_user_model
):
    lesson = make_lesson()
    for round_number in range(ROUNDS):
        user = django_user_model.objects.create_user(username=f"tabs{round_number}")

        def first_message(_index: int, user=user) -> None:
            # What each socket does for a first message: open the chat, save the message.
            conversation = services.get_conversation(user, lesson)
            _, _, stage = chat.current_stage(user, lesson)
            chat.save_user_message(conversation, stage, "Hello from a tab")

        errors = run_together(first_message)
        assert errors == [], f"round {round_number}: {errors!r}"
        conversations = Conversation.objects.filter(user=user, lesson=lesson)
        assert conversations.count() == 1
        messages = Message.objects.filter(conversation__user=user, role=Message.Role.USER)
        assert messages.count() == 2
        assert {m.conversation_id for m in messages} == {conversations.get().pk}
