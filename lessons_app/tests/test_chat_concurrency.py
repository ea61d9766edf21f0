"""Two tabs sending a learner's first message at once: one conversation, one turn (PostgreSQL)."""

import pytest

from lessons_app.models import Conversation, Message
from lessons_app.tests.chat_helpers import make_lesson
from lessons_app.tutor import conversation as chat
from lessons_app.tutor.conversation import TurnInFlight
from lessons_app.tutor.turns import TurnRequest, open_turn

ROUNDS = 15


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_concurrent_first_messages_share_one_conversation_and_start_one_turn(
    postgres_db, run_together, django_user_model
):
    from django.utils import timezone

    lesson = make_lesson()
    for round_number in range(ROUNDS):
        user = django_user_model.objects.create_user(username=f"tabs{round_number}")

        def first_message(index: int, user=user) -> None:
            # What each socket does for a first message: open the chat, start a turn.
            conversation = chat.conversation_of(user, lesson)
            state = chat.chat_state(user, lesson, conversation)
            request = TurnRequest(
                user=user,
                lesson=lesson,
                conversation=conversation,
                stage=state.stage,
                content=f"Hello from tab {index}",
            )
            open_turn(request, runner_id="test", now=timezone.now())

        errors = run_together(first_message)
        assert [type(error) for error in errors] == [TurnInFlight], f"round {round_number}"
        conversations = Conversation.objects.filter(user=user, lesson=lesson)
        assert conversations.count() == 1
        messages = Message.objects.filter(conversation__user=user, role=Message.Role.USER)
        assert messages.count() == 1, "the refused tab's message must not be saved"
        replies = Message.objects.filter(conversation__user=user, status=Message.Status.STREAMING)
        assert replies.count() == 1
        assert {m.conversation_id for m in [*messages, *replies]} == {conversations.get().pk}
