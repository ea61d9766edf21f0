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
from urllib.parse import parse_qs

from django.conf import settings
from django.core.serializers.json import DjangoJSONEncoder
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from lessons_app import untrusted_json
from lessons_app.reply_errors import (
    CHAT_ERROR_MESSAGES,
    FIXED_TEXT_CODES,
    ReplyErrorCode,
    learner_error_message,
)
from llm_app.events import EventType
from llm_app.turn_record import PUBLIC_FIELD_NAMES, TurnRecord

# A frame is a few kilobytes of JSON at most; anything far larger is refused unread.
MAX_FRAME_BYTES = 64 * 1024
# Over Daphne's own limit (1 MiB unless configured), the frame never reaches us: the
# server closes the socket with 1009, message too big (tutor_project/websocket_server.py).


class ClientFrame(StrEnum):
    MESSAGE = "message"
    STOP = "stop"
    ADVANCE = "advance"
    RETRY = "retry"
    # The learner's last message, changed: it replaces the old one and gets a new reply.
    EDIT = "edit"


class ServerFrame(StrEnum):
    HISTORY = "history"
    MESSAGE = "message"
    REPLY = "reply"
    STAGE = "stage"
    DEBUG = "debug"
    # The tutor recorded something (an objective met, an answer, a hint shown): the
    # learner's checklist on the stage, as it is now.
    TEACHING = "teaching"
    # The seam's events, forwarded verbatim during a turn (``usage`` as usage_frame).
    TEXT = EventType.TEXT.value
    TOOL_USE = EventType.TOOL_USE.value
    USAGE = EventType.USAGE.value
    DONE = EventType.DONE.value
    ERROR = EventType.ERROR.value


# The field of the ``teaching`` frame, and of the stage object, that holds the checklist.
TEACHING_CHECKLIST = "teaching"


def teaching_frame(checklist: dict[str, Any]) -> dict[str, Any]:
    """The ``teaching`` frame: the learner's checklist after the tutor recorded something."""
    return {"type": ServerFrame.TEACHING.value, TEACHING_CHECKLIST: checklist}


# An ``advance`` names the stage the learner is moving on from, as the page's Next button
# does: if they have left it already (a repeated click, another tab), nothing moves.
ADVANCE_FROM_STAGE = "from_stage"

# Every frame of a turn carries these two fields: the id of the tutor reply the turn
# produces, and the frame's place in the turn (1, 2, 3, ... with no gaps). They are how
# a socket that attaches mid-reply, or reconnects, knows what it has and what follows.
TURN_MESSAGE_ID = "message_id"
TURN_SEQ = "seq"


class FrameErrorCode(StrEnum):
    """Why a client frame was refused, or a notice. None of these ends a turn in flight."""

    BAD_FRAME = "bad_frame"
    UNKNOWN_TYPE = "unknown_type"
    EMPTY = "empty"
    TOO_LONG = "too_long"
    BUSY = "busy"
    NOTHING_TO_STOP = "nothing_to_stop"
    NOTHING_TO_RETRY = "nothing_to_retry"
    NOTHING_TO_EDIT = "nothing_to_edit"
    # The database or the turn engine is down: nothing was saved, try again shortly.
    UNAVAILABLE = "unavailable"
    # A notice, not a refusal (``rejected`` is null): live frames are held up because the
    # turn engine is unreachable. The turn goes on and is saved; frames resume after it.
    LIVE_PAUSED = "live_paused"


# Written for the learner, in their language when the frame is encoded (lazy).
STOPPED_MESSAGE = CHAT_ERROR_MESSAGES[ReplyErrorCode.STOPPED]
INTERRUPTED_MESSAGE = CHAT_ERROR_MESSAGES[ReplyErrorCode.INTERRUPTED]
BUSY_MESSAGE = _("The tutor is still answering. Wait for the reply or press Stop.")
UNAVAILABLE_MESSAGE = _(
    "The tutor can't take that right now because a server it needs is down. "
    "Nothing was lost; please try again in a moment."
)
NOTHING_TO_RETRY_MESSAGE = _("There is no tutor reply here to write again.")
NOTHING_TO_EDIT_MESSAGE = _("There is no message of yours on this stage to edit.")
LIVE_PAUSED_MESSAGE = _(
    "The live connection to the tutor is interrupted. The reply goes on and is saved; "
    "it will appear here when the connection is back."
)


class FrameError(Exception):
    def __init__(self, code: FrameErrorCode, message: str, rejected: str | None = None):
        super().__init__(message)
        self.code = code
        self.message = message
        self.rejected = rejected

    def as_frame(self) -> dict[str, Any]:
        return frame_error(self.code, self.message, self.rejected)


# One encoder for every frame: ``json.dumps(frame, cls=...)`` builds a new one per call,
# and a turn encodes a frame for every few chunks. Its options are json.dumps' defaults.
_ENCODER = DjangoJSONEncoder()


def encode_frame(frame: dict[str, Any]) -> str:
    """A frame as the JSON text sent on the socket."""
    return _ENCODER.encode(frame)


def in_active_language(error_frame: str) -> str:
    """An encoded ``error`` frame that ends a turn, its ``message`` in the active language.

    A turn's frames are encoded once, in whatever language its runner had (the learner who
    asked, or none in the sweep's process), and every socket following it sends them. Each
    socket writes the text of a fixed-text code in its own learner's language at the edge;
    other frames, refusals of a client frame and the guard's worded refusals pass as they are.
    """
    frame = json.loads(error_frame)
    if frame.get("code") not in FIXED_TEXT_CODES or "rejected" in frame:
        return error_frame
    return encode_frame({**frame, "message": learner_error_message(frame["code"])})


def frame_error(code: FrameErrorCode, message: str, rejected: str | None) -> dict[str, Any]:
    """An ``error`` frame that refuses one client frame; ``rejected`` names its type."""
    return {
        "type": ServerFrame.ERROR.value,
        "code": code.value,
        "message": message,
        "retryable": False,
        "rejected": rejected,
    }


def turn_error(code: ReplyErrorCode, message: str) -> dict[str, Any]:
    """The ``error`` event that ends a turn for a chat reason (stop, interruption)."""
    return {
        "type": ServerFrame.ERROR.value,
        "code": code.value,
        "message": message,
        "retryable": True,
    }


def refusal_error(code: ReplyErrorCode, message: str) -> dict[str, Any]:
    """The ``error`` event that ends a turn the spending guard refused.

    Not retryable: a retry is refused too until the budget or limit resets.
    """
    return {
        "type": ServerFrame.ERROR.value,
        "code": code.value,
        "message": message,
        "retryable": False,
    }


def usage_frame(record: TurnRecord) -> dict[str, Any]:
    """The seam's ``usage`` event as the browser gets it: without the provider's database id."""
    return {"type": ServerFrame.USAGE.value, **record.pick(PUBLIC_FIELD_NAMES)}


def live_paused_notice() -> dict[str, Any]:
    return frame_error(FrameErrorCode.LIVE_PAUSED, LIVE_PAUSED_MESSAGE, None)


@dataclass(frozen=True)
class Command:
    type: ClientFrame
    content: str = ""
    # The stage an ``advance`` moves on from.
    from_stage: int | None = None


@dataclass(frozen=True)
class ResumeCursor:
    """What a reconnecting client already has of a turn: every frame up to ``seq``."""

    message_id: int
    seq: int


def parse_resume_cursor(query_string: bytes | str) -> ResumeCursor | None:
    """The cursor a client gives in the socket URL (``?message_id=8&seq=41``), if any.

    A cursor is only a hint: one that is missing, malformed or negative is ignored,
    and the client gets a snapshot as if it had said nothing.
    """
    if isinstance(query_string, bytes):
        query_string = query_string.decode("latin-1")
    query = parse_qs(query_string)
    try:
        message_id = int(query[TURN_MESSAGE_ID][0])
        seq = int(query[TURN_SEQ][0])
    except (KeyError, IndexError, ValueError):
        return None
    if message_id <= 0 or seq < 0:
        return None
    return ResumeCursor(message_id, seq)


def max_message_chars() -> int:
    return settings.TUTOR_MAX_MESSAGE_CHARS


def parse_client_frame(text: str | None) -> Command:
    """Parse and validate one client frame, or raise :class:`FrameError` saying why not."""
    if text is None:
        raise FrameError(FrameErrorCode.BAD_FRAME, "Frames must be JSON text, not binary.")
    try:
        data = untrusted_json.loads(text, max_bytes=MAX_FRAME_BYTES)
    except untrusted_json.UntrustedJSONError as exc:
        if exc.too_large:
            raise FrameError(
                FrameErrorCode.TOO_LONG, f"Frames may be at most {MAX_FRAME_BYTES:,} bytes long."
            ) from None
        raise FrameError(FrameErrorCode.BAD_FRAME, f"Frame refused: {exc.message}") from None
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
    if kind == ClientFrame.ADVANCE:
        return Command(kind, from_stage=_from_stage(data))
    if kind not in (ClientFrame.MESSAGE, ClientFrame.EDIT):
        return Command(kind)

    content = data.get("content")
    if not isinstance(content, str):
        raise FrameError(
            FrameErrorCode.BAD_FRAME, f'A {kind} frame needs a "content" string.', rejected=kind
        )
    content = content.strip()
    if not content:
        raise FrameError(FrameErrorCode.EMPTY, _("Type a message before sending."), rejected=kind)
    limit = max_message_chars()
    if len(content) > limit:
        raise FrameError(
            FrameErrorCode.TOO_LONG,
            gettext(
                "Messages may be at most {limit:,} characters; this one has {length:,}."
            ).format(limit=limit, length=len(content)),
            rejected=kind,
        )
    return Command(kind, content)


def _from_stage(data: dict[str, Any]) -> int | None:
    """The stage an advance moves on from; ``None`` if not given, as from an older page.

    An older page (open across a deploy) sends no ``from_stage``; it still moves on, as
    the Next button does without its hidden field, only without the repeat guard.
    """
    if ADVANCE_FROM_STAGE not in data:
        return None
    stage_id = data[ADVANCE_FROM_STAGE]
    if isinstance(stage_id, bool) or not isinstance(stage_id, int) or stage_id <= 0:
        raise FrameError(
            FrameErrorCode.BAD_FRAME,
            f'An advance frame\'s "{ADVANCE_FROM_STAGE}" is the id of the stage it moves on from.',
            rejected=ClientFrame.ADVANCE,
        )
    return stage_id
