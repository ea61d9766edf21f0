"""The reads of a turn before the model call, as prepared queries.

Each is on the path to the learner's first word: building them with the ORM cost the
turn about as much again as running them (lessons_app.tutor.prepared says why). They
are ORM queries still, each the one it replaces; test_turn_reads.py holds each to its
plain ORM form.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from django.db.models import Q

from lessons_app.models import Conversation, Message
from lessons_app.tutor.prepared import PreparedQuery

# The messages that count: not superseded by an edit or a regeneration.
LIVE = Q(superseded_at__isnull=True)

# On PostgreSQL a row lock; on SQLite nothing (its IMMEDIATE transaction holds the lock).
_LOCK = PreparedQuery(
    lambda conversation_id: (
        Conversation.objects.select_for_update().filter(pk=conversation_id).values_list("pk")
    ),
    conversation_id=int,
)

_STREAMING_REPLY = PreparedQuery(
    lambda conversation_id: Message.objects.filter(
        conversation_id=conversation_id, status=Message.Status.STREAMING
    ).values_list("pk")[:1],
    conversation_id=int,
)

_LIVE_MESSAGES = PreparedQuery(
    lambda conversation_id: (
        Message.objects.filter(LIVE, conversation_id=conversation_id)
        .order_by("created_at", "id")
        .values_list("pk", "role", "content", "status")
    ),
    conversation_id=int,
)


def lock(conversation_id: int) -> None:
    """Hold the conversation's row until the transaction ends (call it inside one)."""
    _LOCK.rows(conversation_id=conversation_id)


def streaming_reply(conversation_id: int) -> int | None:
    """The id of the conversation's reply still streaming, if any (at most one is)."""
    rows = _STREAMING_REPLY.rows(conversation_id=conversation_id)
    return rows[0][0] if rows else None


def live_message_rows(conversation_id: int) -> Sequence[Sequence[Any]]:
    """The conversation's live messages, oldest first: (id, role, content, status) each."""
    return _LIVE_MESSAGES.rows(conversation_id=conversation_id)
