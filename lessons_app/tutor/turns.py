"""A turn's rows in the database: opening it, checkpointing it, finishing it.

A turn is its reply row while that row is ``streaming``: the unique constraint
``one_turn_in_flight_per_conversation`` lets only one exist per conversation,
whichever process tries. Everything here is synchronous and runs in the database
thread; :func:`open_turn` does all the work before the model call in one trip.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import Case, F, TextField, Value, When

from lessons_app import guard
from lessons_app.content import AnchorNotFound, TranscriptError, previous_stage
from lessons_app.guard import Refusal
from lessons_app.models import Conversation, Lesson, Message, Stage
from lessons_app.stage_kinds import kind_of, stage_content
from lessons_app.tutor.conversation import (
    TurnInFlight,
    lock_conversation,
    needs_opening,
    turn_in_flight,
)
from llm_app.providers import ResolvedProvider, resolve_provider

logger = logging.getLogger(__name__)

# Replies whose text the model sees again in later turns; failed ones are left out.
REPLAYED_STATUSES = (Message.Status.COMPLETE, Message.Status.STOPPED)
# Replies the learner may ask the tutor to write again.
RETRYABLE_STATUSES = (Message.Status.ERROR, Message.Status.STOPPED, Message.Status.INTERRUPTED)


class NothingToRetry(Exception):
    """The last reply is neither failed, stopped nor interrupted."""


@dataclass(frozen=True)
class TurnRequest:
    """What a socket asks the runner for, on behalf of its learner."""

    user: Any
    lesson: Lesson
    conversation: Conversation
    stage: Stage | None
    # The learner's message, for a message turn; empty for a retry or an opening.
    content: str = ""
    retry: bool = False
    opening: bool = False


@dataclass
class TurnContext:
    history: list[dict[str, str]]
    current_content: str
    previous_content: str


@dataclass
class OpenedTurn:
    """A turn the database has accepted, and what its model call needs."""

    reply: Message
    user_message: Message | None
    provider: ResolvedProvider | None = None
    refusal: Refusal | None = None
    context: TurnContext | None = None
    # Something before the model call failed (logged); the turn ends with ``internal``.
    failed: bool = False


def _safe_content(stage: Stage | None) -> str:
    """Stage content for the prompt; broken authoring leaves the tutor without it, not broken."""
    try:
        return stage_content(stage)
    except (AnchorNotFound, TranscriptError) as exc:
        logger.warning("Stage %s content unavailable for the tutor: %s", stage.pk, exc)
        return ""


def build_turn_context(conversation: Conversation, stage: Stage, exclude: set[int]) -> TurnContext:
    rows = conversation.messages.exclude(pk__in=exclude).order_by("created_at", "id")
    history = [
        {"role": row.role, "content": row.content}
        for row in rows
        if row.role != Message.Role.ASSISTANT or row.status in REPLAYED_STATUSES
    ]
    previous = previous_stage(stage) if kind_of(stage).builds_on_previous else None
    return TurnContext(
        history=history,
        current_content=_safe_content(stage),
        previous_content=_safe_content(previous),
    )


def last_reply(conversation: Conversation) -> Message | None:
    return (
        conversation.messages.filter(role=Message.Role.ASSISTANT)
        .order_by("created_at", "id")
        .last()
    )


def _resolve(user) -> ResolvedProvider | None:
    try:
        return resolve_provider(user=user)
    except Exception:
        logger.exception("Resolving the tutor's provider failed; the turn ends with an error")
        return None


def open_turn(request: TurnRequest, *, runner_id: str, now: datetime) -> OpenedTurn | None:
    """Save the learner's message and the streaming reply row, or refuse; then prepare the call.

    Raises :class:`TurnInFlight` (nothing saved) when the conversation has a turn in
    flight, and :class:`NothingToRetry` for a retry with nothing to retry. Returns
    ``None`` for an opening the stage no longer needs. A failure after the rows are
    saved (provider, guard, history) comes back as ``failed``, never as an exception,
    so the turn can still end with an ``error`` frame.
    """
    conversation = request.conversation
    provider = _resolve(request.user)
    exclude: set[int] = set()
    with transaction.atomic():
        lock_conversation(conversation)
        if turn_in_flight(conversation) is not None:
            raise TurnInFlight
        if request.opening and not needs_opening(conversation, request.stage):
            return None
        if request.retry:
            previous = last_reply(conversation)
            if previous is None or previous.status not in RETRYABLE_STATUSES:
                raise NothingToRetry
            exclude.add(previous.pk)
        user_message = None
        if request.content:
            user_message = Message.objects.create(
                conversation=conversation,
                role=Message.Role.USER,
                stage=request.stage,
                content=request.content,
            )
        try:
            with transaction.atomic():
                reply = Message.objects.create(
                    conversation=conversation,
                    role=Message.Role.ASSISTANT,
                    stage=request.stage,
                    status=Message.Status.STREAMING,
                    runner_id=runner_id,
                    heartbeat_at=now,
                    provider_name=provider.label[:100] if provider else "",
                    model=provider.model[:200] if provider else "",
                    experiment_arm_id=provider.experiment_arm_id if provider else None,
                )
        except IntegrityError:
            # Another process won the race the lock could not see (the constraint did).
            raise TurnInFlight from None
    opened = OpenedTurn(reply=reply, user_message=user_message, provider=provider)
    if provider is None:
        opened.failed = True
        return opened
    try:
        opened.refusal = guard.check_turn_allowed(request.user, provider)
        if opened.refusal is None and request.stage is not None:
            opened.context = build_turn_context(conversation, request.stage, exclude | {reply.pk})
    except Exception:
        logger.exception("Preparing turn %s failed; it ends with an error", reply.pk)
        opened.failed = True
    return opened


def checkpoint(texts: dict[int, str], turn_ids: list[int], now: datetime) -> set[int]:
    """Save partial text (``texts``) and a heartbeat for this process's turns, in one UPDATE.

    Returns the turns whose rows are still streaming: one missing from the answer has
    been finished by someone else (the sweep), so its runner must let it go.
    """
    if not turn_ids:
        return set()
    rows = Message.objects.filter(pk__in=turn_ids, status=Message.Status.STREAMING)
    changes: dict[str, Any] = {"heartbeat_at": now}
    if texts:
        changes["content"] = Case(
            *(When(pk=pk, then=Value(text)) for pk, text in texts.items()),
            default=F("content"),
            output_field=TextField(),
        )
    if rows.update(**changes) == len(turn_ids):
        return set(turn_ids)
    return set(rows.values_list("pk", flat=True))


@dataclass(frozen=True)
class TurnResult:
    """How a turn ended, as its reply row records it."""

    status: str
    error_code: str = ""
    usage: dict[str, Any] | None = None


def finish_reply(
    reply_id: int,
    *,
    content: str,
    result: TurnResult,
    first_token_ms: int | None,
    total_ms: int,
) -> Message | None:
    """Save the reply's final state; ``None`` if it is no longer streaming (taken over)."""
    changes: dict[str, Any] = {
        "content": content,
        "status": result.status,
        "error_code": result.error_code,
        "time_to_first_token_ms": first_token_ms,
        "total_time_ms": total_ms,
    }
    usage = result.usage
    if usage:
        cost = usage.get("cost_usd")
        changes.update(
            input_tokens=usage.get("input_tokens"),
            output_tokens=usage.get("output_tokens"),
            cache_read_tokens=usage.get("cache_read_tokens"),
            cache_write_tokens=usage.get("cache_write_tokens"),
            attempts=usage.get("attempts"),
            cost_usd=Decimal(str(cost)) if cost is not None else None,
        )
        # The provider that finally answered, which a fallback may have changed.
        if usage.get("provider"):
            changes["provider_name"] = usage["provider"][:100]
        if usage.get("model"):
            changes["model"] = usage["model"][:200]
    updated = Message.objects.filter(pk=reply_id, status=Message.Status.STREAMING).update(**changes)
    return Message.objects.get(pk=reply_id) if updated else None


@dataclass(frozen=True)
class StreamingRow:
    """A reply row in flight, as the sweep sees it."""

    pk: int
    conversation_id: int
    runner_id: str
    heartbeat_at: datetime | None
    content: str
    user_id: int | None = None
    lesson_slug: str = ""


def streaming_rows() -> list[StreamingRow]:
    rows = Message.objects.filter(status=Message.Status.STREAMING).values_list(
        "pk",
        "conversation_id",
        "runner_id",
        "heartbeat_at",
        "content",
        "conversation__user_id",
        "conversation__lesson__slug",
    )
    return [StreamingRow(*row) for row in rows]


def interrupt(row: StreamingRow, *, content: str, error_code: str) -> Message | None:
    """Finish a dead runner's reply as interrupted, keeping ``content``; None if it ended."""
    updated = Message.objects.filter(pk=row.pk, status=Message.Status.STREAMING).update(
        status=Message.Status.INTERRUPTED, error_code=error_code, content=content
    )
    return Message.objects.get(pk=row.pk) if updated else None
