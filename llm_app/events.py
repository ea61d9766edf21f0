"""The events the LLM seam yields, named once.

The chat consumer forwards these to the browser (``usage`` without its
``provider_id``), so these names are also the server-to-client frame types
documented in docs/protocol.md.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any

from django.utils.translation import gettext_noop

from llm_app.turn_record import TurnRecord


class EventType(StrEnum):
    TEXT = "text"
    TOOL_USE = "tool_use"
    USAGE = "usage"
    DONE = "done"
    ERROR = "error"


TERMINAL_EVENTS = frozenset({EventType.DONE, EventType.ERROR})

# A ``tool_use`` event's fields: the tool's name, and the arguments the model gave it
# (a parsed JSON object), present only when it gave some. A call without arguments is
# ``{"type": "tool_use", "name": ...}``, exactly as before tools took arguments.
TOOL_NAME = "name"
TOOL_ARGUMENTS = "arguments"


class ErrorCode(StrEnum):
    AUTH = "auth"
    RATE_LIMITED = "rate_limited"
    UNAVAILABLE = "unavailable"
    TIMEOUT = "timeout"
    BAD_REQUEST = "bad_request"
    EMPTY_RESPONSE = "empty_response"
    # The model declined to answer (an OpenAI refusal, a content filter): billed, not empty.
    REFUSED = "refused"
    # The conversation no longer fits the model's context, even after fitting it.
    CONTEXT_TOO_LONG = "context_too_long"
    # The provider is set up wrongly (no API key, a wrong api_base path): for staff to fix.
    CONFIGURATION = "configuration"
    INTERNAL = "internal"


# What a learner reads. Never the provider's own text, which may quote
# request details; staff find the detail in the server log. English here and in every
# event (the shell, logs); marked for translation so the chat shows it in the learner's
# language (``lessons_app.reply_errors.learner_error_message``).
SAFE_ERROR_MESSAGES: dict[ErrorCode, str] = {
    ErrorCode.AUTH: gettext_noop(
        "The tutor's AI provider did not accept our credentials. "
        "Please let your teacher or an administrator know."
    ),
    ErrorCode.RATE_LIMITED: gettext_noop(
        "The tutor is getting a lot of questions right now. Please try again in a moment."
    ),
    ErrorCode.UNAVAILABLE: gettext_noop(
        "The tutor's AI provider is unavailable at the moment. Please try again shortly."
    ),
    ErrorCode.TIMEOUT: gettext_noop("The tutor took too long to answer. Please try again."),
    ErrorCode.BAD_REQUEST: gettext_noop(
        "The tutor could not handle that request. Please rephrase, or let your teacher know "
        "if it keeps happening."
    ),
    ErrorCode.EMPTY_RESPONSE: gettext_noop("The tutor sent an empty reply. Please try again."),
    ErrorCode.REFUSED: gettext_noop(
        "The tutor's AI model declined to answer that message. Try asking in a different way."
    ),
    ErrorCode.CONTEXT_TOO_LONG: gettext_noop(
        "This conversation has become too long for the tutor's AI model to read. "
        "Press Next to go on to the next stage, or let your teacher know."
    ),
    ErrorCode.CONFIGURATION: gettext_noop(
        "The tutor's AI provider is not set up correctly. "
        "Please let your teacher or an administrator know."
    ),
    ErrorCode.INTERNAL: gettext_noop("Something went wrong on our side. Please try again."),
}

RETRYABLE_ERRORS = frozenset(
    {ErrorCode.RATE_LIMITED, ErrorCode.UNAVAILABLE, ErrorCode.TIMEOUT, ErrorCode.EMPTY_RESPONSE}
)


def text_event(content: str) -> dict[str, Any]:
    return {"type": EventType.TEXT.value, "content": content}


def tool_use_event(name: str, arguments: dict[str, Any] | None = None) -> dict[str, Any]:
    """A completed tool call; ``arguments`` only if the model gave any."""
    event: dict[str, Any] = {"type": EventType.TOOL_USE.value, TOOL_NAME: name}
    if arguments:
        event[TOOL_ARGUMENTS] = arguments
    return event


def done_event() -> dict[str, Any]:
    return {"type": EventType.DONE.value}


def error_event(code: ErrorCode) -> dict[str, Any]:
    return {
        "type": EventType.ERROR.value,
        "code": code.value,
        "message": SAFE_ERROR_MESSAGES[code],
        "retryable": code in RETRYABLE_ERRORS,
    }


def usage_event(record: TurnRecord) -> dict[str, Any]:
    """The ``usage`` event: every field of the turn's record, the answering provider's id too
    (the browser's ``usage`` frame leaves that out: ``turn_record.PUBLIC_FIELD_NAMES``)."""
    return {"type": EventType.USAGE.value, **record.as_dict()}
