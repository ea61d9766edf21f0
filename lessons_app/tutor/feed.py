"""The events of a conversation's feed: what every socket of the learner must know.

Named once here; the engines carry them as small JSON objects and the chat
session reacts to them. They are nudges ("look at turn 8"), never turn frames:
those travel in the turn's own log.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any

EVENT = "event"
TURN = "turn"
ORIGIN = "origin"
# On ``turn_started``: the turn superseded earlier messages (an edit, a regenerated reply),
# so a socket shows a fresh history rather than only following the turn.
SUPERSEDES = "supersedes"


class FeedEvent(StrEnum):
    # A turn started: its sockets follow its log from the first entry.
    TURN_STARTED = "turn_started"
    # A dead runner's turn was finished by the sweep: followers resynchronise.
    TURN_INTERRUPTED = "turn_interrupted"
    # The learner moved to another stage from one socket; the others follow.
    STAGE_CHANGED = "stage_changed"


def turn_started(turn_id: int, *, supersedes: bool = False) -> dict[str, Any]:
    return {EVENT: FeedEvent.TURN_STARTED.value, TURN: turn_id, SUPERSEDES: supersedes}


def turn_interrupted(turn_id: int) -> dict[str, Any]:
    return {EVENT: FeedEvent.TURN_INTERRUPTED.value, TURN: turn_id}


def stage_changed(origin: str) -> dict[str, Any]:
    """``origin`` names the socket that moved, which already knows."""
    return {EVENT: FeedEvent.STAGE_CHANGED.value, ORIGIN: origin}
