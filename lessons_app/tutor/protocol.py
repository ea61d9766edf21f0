"""The tutor chat's WebSocket frames: names, limits and validation, in one place.

Every client frame is parsed and checked here, at the boundary, so the chat
session only ever sees clean data. docs/protocol.md documents these frames and
lessons_app/tests/test_protocol_doc.py keeps the two in step.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from django.conf import settings

from llm_app.events import EventType

# A frame is a few kilobytes of JSON at most; anything far larger is refused unread.
MAX_FRAME_BYTES = 64 * 1024


class ClientFrame(StrEnum):
    MESSAGE = "message"
    STOP = "stop"
    ADVANCE = "advance"
    RETRY = "retry"


class ServerFrame(StrEnum):
    HISTORY = "history"
    MESSAGE = "message"
    REPLY = "reply"
    STAGE = "stage"
    DEBUG = "debug"
    # The seam's events, forwarded verbatim during a turn.
    TEXT = EventType.TEXT.value
    TOOL_USE = EventType.TOOL_USE.value
    USAGE = EventType.USAGE.value
    DONE = EventType.DONE.value
    ERROR = EventType.ERROR.value


class FrameErrorCode(StrEnum):
    """Why a client frame was refused. None of these ends a turn in flight."""

    BAD_FRAME = "bad_frame"
    UNKNOWN_TYPE = "unknown_type"
    EMPTY = "empty"
    TOO_LONG = "too_long"
    BUSY = "busy"
    NOTHING_TO_STOP = "nothing_to_stop"
    NOTHING_TO_RETRY = "nothing_to_retry"


# The code a stopped turn ends with; retrying it is always possible.
STOPPED = "stopped"
STOPPED_MESSAGE = "You stopped this reply."


class FrameError(Exception):
    def __init__(self, code: FrameErrorCode, message: str, rejected: str | None = None):
        super().__init__(message)
        self.code = code
        self.message = message
        self.rejected = rejected

    def as_frame(self) -> dict[str, Any]:
        return frame_error(self.code, self.message, self.rejected)


def frame_error(code: FrameErrorCode, message: str, rejected: str | None) -> dict[str, Any]:
    """An ``error`` frame that refuses one client frame; ``rejected`` names its type."""
    return {
        "type": ServerFrame.ERROR.value,
        "code": code.value,
        "message": message,
        "retryable": False,
        "rejected": rejected,
    }


@dataclass(frozen=True)
class Command:
    type: ClientFrame
    content: str = ""


def max_message_chars() -> int:
    return settings.TUTOR_MAX_MESSAGE_CHARS


def parse_client_frame(text: str | None) -> Command:
    """Parse and validate one client frame, or raise :class:`FrameError` saying why not."""
    if text is None:
        raise FrameError(FrameErrorCode.BAD_FRAME, "Frames must be JSON text, not binary.")
    if len(text) > MAX_FRAME_BYTES:
        raise FrameError(
            FrameErrorCode.TOO_LONG, f"Frames may be at most {MAX_FRAME_BYTES} bytes long."
        )
    try:
        data = json.loads(text)
    except ValueError:
        raise FrameError(FrameErrorCode.BAD_FRAME, "That frame was not valid JSON.") from None
    if not isinstance(data, dict) or not isinstance(data.get("type"), str):
        raise FrameError(
            FrameErrorCode.BAD_FRAME, 'A frame must be a JSON object with a "type" string.'
        )
    try:
        kind = ClientFrame(data["type"])
    except ValueError:
        known = ", ".join(frame.value for frame in ClientFrame)
        raise FrameError(
            FrameErrorCode.UNKNOWN_TYPE,
            f"Unknown frame type {data['type'][:40]!r}; expected one of: {known}.",
            rejected=data["type"][:40],
        ) from None
    if kind != ClientFrame.MESSAGE:
        return Command(kind)

    content = data.get("content")
    if not isinstance(content, str):
        raise FrameError(
            FrameErrorCode.BAD_FRAME, 'A message frame needs a "content" string.', rejected=kind
        )
    content = content.strip()
    if not content:
        raise FrameError(FrameErrorCode.EMPTY, "Type a message before sending.", rejected=kind)
    limit = max_message_chars()
    if len(content) > limit:
        raise FrameError(
            FrameErrorCode.TOO_LONG,
            f"Messages may be at most {limit:,} characters; this one has {len(content):,}.",
            rejected=kind,
        )
    return Command(kind, content)
