"""The JSON line log format: a turn's fields at the top level, any other record as a message."""

import json
import logging

from django.conf import settings

from lessons_app import observability
from lessons_app.tests.factories import TurnLogFactory
from tutor_project.log_format import JsonLineFormatter


def test_settings_name_the_formatter_for_the_turn_log():
    formatter = settings.LOGGING["formatters"]["json_line"]
    assert formatter["()"] == "tutor_project.log_format.JsonLineFormatter"
    handler = settings.LOGGING["loggers"][observability.logger.name]["handlers"]
    assert [settings.LOGGING["handlers"][name]["formatter"] for name in handler] == ["json_line"]


def test_the_formatter_writes_the_turn_as_one_json_object_with_time_and_level(settings, turn_log):
    settings.TUTOR_LOG_MESSAGE_TEXT = False
    observability.record_turn(
        TurnLogFactory(
            status="error",
            error_code="timeout",
            cost_usd=None,
            text="my tree is secretly made of marzipan",
        )
    )
    [line] = [r for r in turn_log.records if r.name == observability.logger.name]

    formatted = JsonLineFormatter().format(line)

    assert "\n" not in formatted
    document = json.loads(formatted)
    assert document["level"] == "INFO"
    assert document["logger"] == "tutor.turns"
    assert document["ts"].endswith("+00:00")
    assert document["status"] == "error"
    assert document["error_code"] == "timeout"
    assert document["cost_usd"] is None
    assert "text" not in document


def test_the_formatter_turns_any_other_record_into_json_too():
    record = logging.LogRecord("x", logging.WARNING, __file__, 1, "hello %s", ("world",), None)
    document = json.loads(JsonLineFormatter().format(record))
    assert (document["level"], document["message"]) == ("WARNING", "hello world")
