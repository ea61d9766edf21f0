"""A reply row keeps its turn's record whole, and its error code from one vocabulary."""

from dataclasses import fields, replace

import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction

from lessons_app.models import (
    RECORD_COLUMNS,
    Conversation,
    Message,
    TurnRefusal,
    record_columns,
)
from lessons_app.reply_errors import ReplyErrorCode
from lessons_app.tests.chat_helpers import make_lesson, make_user
from lessons_app.tutor.protocol import usage_frame
from llm_app.events import ErrorCode, EventType, usage_event
from llm_app.testing.factories import ProviderFactory, TurnRecordFactory
from llm_app.turn_record import PUBLIC_FIELD_NAMES, TurnRecord

# Every field filled in, so a round trip that drops one is seen.
RECORD = TurnRecordFactory(provider="Claude", attempts=2)


@pytest.fixture
def conversation(db):
    return Conversation.objects.create(user=make_user("ada"), lesson=make_lesson())


def test_the_usage_event_is_the_record_with_its_type():
    assert None not in RECORD.as_dict().values()
    event = usage_event(RECORD)
    assert event == {"type": EventType.USAGE.value, **RECORD.as_dict()}
    assert list(event)[1:] == [field.name for field in fields(TurnRecord)]
    assert TurnRecord.from_values(event) == RECORD


def test_the_usage_frame_is_the_record_without_the_providers_database_id():
    record = replace(RECORD, provider_id=7)
    frame = usage_frame(record)
    assert TurnRecord.from_values(usage_event(record)) == record
    public = {name: value for name, value in record.as_dict().items() if name != "provider_id"}
    assert frame == {"type": EventType.USAGE.value, **public}
    assert list(frame)[1:] == list(PUBLIC_FIELD_NAMES)


def test_a_reply_row_keeps_every_field_of_the_record_but_the_finish_reason(conversation):
    assert set(RECORD_COLUMNS) == {field.name for field in fields(TurnRecord)} - {"finish_reason"}
    record = replace(RECORD, provider_id=ProviderFactory(name="Claude").pk)
    reply = Message.objects.create(
        conversation=conversation, role=Message.Role.ASSISTANT, **record_columns(record)
    )
    reply.refresh_from_db()
    assert reply.provider_name == "Claude"
    assert reply.turn_record() == TurnRecord(**{**record.as_dict(), "finish_reason": None})


def test_a_refused_reply_names_the_provider_of_its_refusal(conversation):
    refusal = TurnRefusal.objects.create(
        conversation=conversation,
        code=ReplyErrorCode.DAILY_LIMIT,
        provider_name="Demo",
        model="demo/offline-tutor",
    )
    reply = Message.objects.create(
        conversation=conversation,
        role=Message.Role.ASSISTANT,
        status=Message.Status.ERROR,
        error_code=ReplyErrorCode.DAILY_LIMIT,
        refusal=refusal,
    )
    record = Message.objects.select_related("refusal").get(pk=reply.pk).turn_record()
    assert (record.provider, record.model, record.cost_usd) == ("Demo", "demo/offline-tutor", None)


def test_every_code_the_seam_ends_a_turn_with_is_a_reply_error_code():
    assert {code.value for code in ErrorCode} <= set(ReplyErrorCode.values)


def test_an_unknown_error_code_is_refused_by_validation_and_by_the_database(conversation):
    reply = Message(conversation=conversation, role=Message.Role.ASSISTANT, error_code="oops")
    with pytest.raises(ValidationError) as raised:
        reply.full_clean()
    assert "error_code" in raised.value.message_dict
    with pytest.raises(IntegrityError), transaction.atomic():
        reply.save()
