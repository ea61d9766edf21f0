"""The prepared queries a turn makes before the model call give what their ORM forms give,
and the lock is a row lock where the database has them."""

from datetime import timedelta

import pytest
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from lessons_app import services
from lessons_app.models import Message
from lessons_app.tests.chat_helpers import make_lesson, make_user
from lessons_app.tutor import turn_reads
from lessons_app.tutor.turns import live_messages

pytestmark = pytest.mark.django_db


@pytest.fixture
def conversation():
    return services.get_conversation(make_user(), make_lesson())


def _message(conversation, role, content, **fields):
    return Message.objects.create(conversation=conversation, role=role, content=content, **fields)


def test_the_live_messages_are_the_orm_s_in_its_order(conversation):
    now = timezone.now()
    _message(conversation, Message.Role.USER, "first")
    _message(conversation, Message.Role.USER, "edited away", superseded_at=now)
    # Saved later but created earlier: the order is the messages' time, then their id.
    earlier = _message(conversation, Message.Role.ASSISTANT, "earlier")
    Message.objects.filter(pk=earlier.pk).update(created_at=now - timedelta(days=1))
    _message(conversation, Message.Role.ASSISTANT, "streaming", status=Message.Status.STREAMING)
    _message(conversation, Message.Role.SYSTEM, "Started reading")
    orm = list(
        live_messages(conversation)
        .order_by("created_at", "id")
        .values_list("pk", "role", "content", "status")
    )
    assert [tuple(row) for row in turn_reads.live_message_rows(conversation.pk)] == orm
    assert [row[2] for row in orm][:2] == ["earlier", "first"]
    assert "edited away" not in [row[2] for row in orm]


def test_the_streaming_reply_is_the_one_streaming(conversation):
    assert turn_reads.streaming_reply(conversation.pk) is None
    _message(conversation, Message.Role.ASSISTANT, "done", status=Message.Status.COMPLETE)
    assert turn_reads.streaming_reply(conversation.pk) is None
    reply = _message(conversation, Message.Role.ASSISTANT, "", status=Message.Status.STREAMING)
    assert turn_reads.streaming_reply(conversation.pk) == reply.pk
    other = services.get_conversation(make_user("another-learner"), conversation.lesson)
    assert turn_reads.streaming_reply(other.pk) is None


def test_the_lock_is_a_row_lock_where_the_database_has_them(conversation):
    with transaction.atomic(), CaptureQueriesContext(connection) as queries:
        turn_reads.lock(conversation.pk)
    [query] = [q["sql"] for q in queries.captured_queries if "lessons_app_conversation" in q["sql"]]
    assert query.endswith("FOR UPDATE") == connection.features.has_select_for_update
