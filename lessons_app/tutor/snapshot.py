"""A turn in flight as a (re)connecting socket first sees it: the resume rules, pure.

The socket's ``history`` frame shows the in-flight reply with the text of its
frames up to some number ``seq``; every frame after ``seq`` follows live. Which
``seq``:

- The client said what it has (``?message_id=M&seq=C``), M is the turn in flight,
  and its log still holds everything from its ``reply`` frame to C: then ``seq`` is
  C, and the frames after C are replayed from the log (``resumed``).
- Otherwise (no cursor, another turn, a cursor too old or beyond the log): the
  newest frame in the log, a snapshot of the reply as it is now.

docs/protocol.md states the same rules for client authors.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass

from lessons_app.tutor.engines.base import LogEntry
from lessons_app.tutor.protocol import ResumeCursor, ServerFrame


@dataclass(frozen=True)
class Snapshot:
    seq: int
    text: str
    resumed: bool
    # The turn's last frame is at or before ``seq``: it has ended.
    ended: bool
    # Tools the model called in the frames up to ``seq`` (their ``tool_use`` frames are past).
    tools: tuple[str, ...] = ()


def contiguous(entries: Sequence[LogEntry]) -> list[LogEntry]:
    """The entries numbered 1, 2, 3, ... without a gap (a log restored in part has one)."""
    prefix = []
    for expected, entry in enumerate(entries, start=1):
        if entry.seq != expected:
            break
        prefix.append(entry)
    return prefix


def text_of(entries: Sequence[LogEntry]) -> str:
    return "".join(
        json.loads(entry.frame)["content"] for entry in entries if entry.type == ServerFrame.TEXT
    )


def take_snapshot(
    turn_id: int, entries: Sequence[LogEntry], cursor: ResumeCursor | None
) -> Snapshot:
    log = contiguous(entries)
    top = log[-1].seq if log else 0
    reply_seq = next((entry.seq for entry in log if entry.type == ServerFrame.REPLY), None)
    resumed = (
        cursor is not None
        and cursor.message_id == turn_id
        and reply_seq is not None
        and reply_seq <= cursor.seq <= top
    )
    seq = cursor.seq if resumed else top
    shown = log[:seq]
    return Snapshot(
        seq=seq,
        text=text_of(shown),
        resumed=resumed,
        ended=any(entry.ends_turn for entry in shown),
        tools=tuple(
            json.loads(entry.frame)["name"] for entry in shown if entry.type == ServerFrame.TOOL_USE
        ),
    )
