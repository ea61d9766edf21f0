"""One JSON log line and the metrics for every turn; message text only when allowed."""

import json
import logging

import pytest
from channels.db import database_sync_to_async

# Loading the ASGI app runs django.setup(), which re-applies settings.LOGGING and would
# drop caplog's handler if it happened during a test; load it while collecting instead.
import tutor_project.asgi  # noqa: F401
from lessons_app import observability
from lessons_app.observability import REGISTRY, record_turn
from lessons_app.tests.chat_helpers import connect, make_lesson, make_user, receive, send
from lessons_app.tests.factories import TurnLogFactory

SECRET_WORDS = "my tree is secretly made of marzipan"

EXPECTED_FIELDS = {
    "event": "turn",
    "conversation_id": 7,
    "message_id": 42,
    "user_id": 3,
    "lesson_slug": "plants",
    "provider": "Claude",
    "model": "anthropic/claude-sonnet-4-20250514",
    "status": "complete",
    "error_code": "",
    "attempts": 2,
    "input_tokens": 120,
    "output_tokens": 45,
    "cost_usd": 0.00123,
    "time_to_first_token_ms": 850,
    "total_time_ms": 2300,
}

# The turn those fields describe; what the line leaves out (the cache tokens, the
# finish reason) the factory fills in, so leaving them out is checked too.
RECORD = TurnLogFactory(
    **{name: value for name, value in EXPECTED_FIELDS.items() if name != "event"},
    text=SECRET_WORDS,
)


def turn_records(caplog) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.name == "tutor.turns"]


def value(name: str, **labels) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


# --- The log line ------------------------------------------------------------------


def test_one_json_line_per_turn_with_every_field_and_no_text(settings, turn_log):
    settings.TUTOR_LOG_MESSAGE_TEXT = False
    record_turn(RECORD)

    [line] = turn_records(turn_log)
    message = line.getMessage()
    assert "\n" not in message
    assert json.loads(message) == EXPECTED_FIELDS
    assert SECRET_WORDS not in turn_log.text


def test_message_text_is_logged_only_when_the_setting_allows_it(settings, turn_log):
    settings.TUTOR_LOG_MESSAGE_TEXT = True
    record_turn(RECORD)
    [line] = turn_records(turn_log)
    assert json.loads(line.getMessage()) == {**EXPECTED_FIELDS, "text": SECRET_WORDS}


def test_recording_never_raises(monkeypatch, turn_log):
    def broken(*args, **kwargs):
        raise RuntimeError("metrics backend gone")

    monkeypatch.setattr(observability.TURNS, "labels", broken)
    record_turn(RECORD)  # must not raise
    assert "Recording turn 42 failed" in turn_log.text


# --- The metrics ---------------------------------------------------------------------


def test_turns_errors_and_time_to_first_token_are_counted():
    provider = "Metrics-Provider-A"
    turns_before = value("tutor_turns_total", provider=provider, status="error")
    errors_before = value("tutor_turn_errors_total", code="rate_limited")
    ttft_count = value("tutor_time_to_first_token_seconds_count")
    ttft_sum = value("tutor_time_to_first_token_seconds_sum")
    fast = value("tutor_time_to_first_token_seconds_bucket", le="1.0")

    record_turn(TurnLogFactory(provider=provider, status="complete", time_to_first_token_ms=850))
    record_turn(
        TurnLogFactory(
            provider=provider,
            status="error",
            error_code="rate_limited",
            time_to_first_token_ms=None,
        )
    )

    assert value("tutor_turns_total", provider=provider, status="complete") == 1
    assert value("tutor_turns_total", provider=provider, status="error") == turns_before + 1
    assert value("tutor_turn_errors_total", code="rate_limited") == errors_before + 1
    # Only the turn that streamed a token is timed.
    assert value("tutor_time_to_first_token_seconds_count") == ttft_count + 1
    assert value("tutor_time_to_first_token_seconds_sum") == pytest.approx(ttft_sum + 0.85)
    assert value("tutor_time_to_first_token_seconds_bucket", le="1.0") == fast + 1


def test_a_stopped_turn_is_not_an_error():
    errors_before = value("tutor_turn_errors_total", code="stopped")
    record_turn(
        TurnLogFactory(provider="Metrics-Provider-B", status="stopped", error_code="stopped")
    )
    assert value("tutor_turns_total", provider="Metrics-Provider-B", status="stopped") == 1
    assert value("tutor_turn_errors_total", code="stopped") == errors_before


def test_sockets_are_counted_up_and_down():
    before = value("tutor_active_sockets")
    observability.socket_opened()
    observability.socket_opened()
    assert value("tutor_active_sockets") == before + 2
    observability.socket_closed()
    assert value("tutor_active_sockets") == before + 1
    observability.socket_closed()
    assert value("tutor_active_sockets") == before


# --- Through the chat socket ---------------------------------------------------------


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("turn_runtime")
async def test_a_real_turn_logs_one_line_and_moves_the_metrics(settings, turn_log):
    settings.TUTOR_LOG_MESSAGE_TEXT = False
    user = await database_sync_to_async(make_user)()
    await database_sync_to_async(make_lesson)()
    sockets_before = value("tutor_active_sockets")

    communicator, connected, _ = await connect(user, "plants")
    assert connected
    assert (await receive(communicator))["type"] == "history"
    assert value("tutor_active_sockets") == sockets_before + 1
    await send(communicator, {"type": "message", "content": SECRET_WORDS})
    frames = [await receive(communicator)]
    while frames[-1]["type"] not in ("done", "error"):
        frames.append(await receive(communicator))
    await communicator.disconnect()

    assert frames[-1]["type"] == "done"
    assert value("tutor_active_sockets") == sockets_before
    [line] = turn_records(turn_log)
    fields = json.loads(line.getMessage())
    reply_id = next(f["message"]["id"] for f in frames if f["type"] == "reply")
    assert fields["message_id"] == reply_id
    assert fields["user_id"] == user.pk
    assert fields["lesson_slug"] == "plants"
    assert fields["status"] == "complete"
    assert fields["attempts"] == 1
    assert fields["output_tokens"] > 0
    assert fields["time_to_first_token_ms"] is not None
    assert SECRET_WORDS not in turn_log.text
