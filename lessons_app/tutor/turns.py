"""A turn's rows in the database: opening it, checkpointing it, finishing it.

A turn is its reply row while that row is ``streaming``: the unique constraint
``one_turn_in_flight_per_conversation`` lets only one exist per conversation,
whichever process tries. Everything here is synchronous and runs in the database
thread; :func:`open_turn` does all the work before the model call in one trip.
"""

from __future__ import annotations

import dataclasses
import logging
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import Case, F, TextField, Value, When

from lessons_app import guard
from lessons_app.content import AnchorNotFound, TranscriptError, previous_stage
from lessons_app.guard import Refusal
from lessons_app.models import (
    Conversation,
    Lesson,
    Message,
    Stage,
    TurnRefusal,
    attribution_columns,
    record_columns,
)
from lessons_app.stage_kinds import kind_of, stage_content
from lessons_app.teaching import (
    NO_TEACHING,
    LearnerTeaching,
    StageTeaching,
    load_learner_teaching,
)
from lessons_app.tutor import turn_reads
from lessons_app.tutor.conversation import (
    AUTHOR_ATTRIBUTION,
    TurnInFlight,
    lock_conversation,
    needs_opening,
    turn_in_flight,
)
from llm_app.providers import ResolvedProvider, resolve_provider
from llm_app.turn_record import TurnRecord

logger = logging.getLogger(__name__)

# Replies whose text the model sees again in later turns; failed ones are left out.
REPLAYED_STATUSES = (Message.Status.COMPLETE, Message.Status.STOPPED)
# Replies the learner may ask the tutor to write again.
RETRYABLE_STATUSES = (Message.Status.ERROR, Message.Status.STOPPED, Message.Status.INTERRUPTED)


class NothingToRetry(Exception):
    """There is no reply to write again: none, or the author's, or one of another stage."""


class NothingToEdit(Exception):
    """The learner has no message on this stage to edit."""


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
    # What the stage teaches, as the socket read it with the stage.
    teaching: StageTeaching = NO_TEACHING
    # ``content`` replaces the learner's last message (an ``edit`` frame).
    edit: bool = False
    # The learner's language code (lessons_app.languages); empty: the site's default.
    language: str = ""


@dataclass
class TurnContext:
    history: list[dict[str, str]]
    current_content: str
    previous_content: str
    # What the learner has shown on the stage so far; the turn's records update it.
    learner: LearnerTeaching = dataclasses.field(default_factory=LearnerTeaching)


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
    # Messages were superseded (an edit, a regenerated reply): every socket shows a new history.
    supersedes: bool = False


def safe_stage_content(stage: Stage | None) -> str:
    """Stage content for the prompt; broken authoring leaves the tutor without it, not broken."""
    try:
        return stage_content(stage)
    except (AnchorNotFound, TranscriptError) as exc:
        logger.warning("Stage %s content unavailable for the tutor: %s", stage.pk, exc)
        return ""


def live_messages(conversation: Conversation):
    """The conversation's messages that count: not superseded by an edit or a regeneration."""
    return conversation.messages.filter(turn_reads.LIVE)


def build_turn_context(
    conversation: Conversation,
    stage: Stage,
    exclude: set[int],
    *,
    user: Any = None,
    teaching: StageTeaching = NO_TEACHING,
) -> TurnContext:
    history = [
        {"role": role, "content": content}
        for pk, role, content, status in turn_reads.live_message_rows(conversation.pk)
        if pk not in exclude and (role != Message.Role.ASSISTANT or status in REPLAYED_STATUSES)
    ]
    previous = previous_stage(stage) if kind_of(stage).builds_on_previous else None
    return TurnContext(
        history=history,
        current_content=safe_stage_content(stage),
        previous_content=safe_stage_content(previous),
        # In this trip, and only on a stage that records anything.
        learner=load_learner_teaching(user, teaching) if user is not None else LearnerTeaching(),
    )


def last_reply(conversation: Conversation) -> Message | None:
    return (
        live_messages(conversation)
        .filter(role=Message.Role.ASSISTANT)
        .order_by("created_at", "id")
        .last()
    )


def _last_learner_message(conversation: Conversation) -> Message | None:
    return (
        live_messages(conversation)
        .filter(role=Message.Role.USER)
        .order_by("created_at", "id")
        .last()
    )


def _resolve(user) -> ResolvedProvider | None:
    try:
        return resolve_provider(user=user)
    except Exception:
        logger.exception("Resolving the tutor's provider failed; the turn ends with an error")
        return None


def _regenerable(reply: Message, conversation: Conversation, stage: Stage | None) -> bool:
    """A finished reply may be written again if it answers a learner message on this stage.

    Not the author's opening message, nor a reply of a stage the learner has left.
    """
    if stage is None or reply.stage_id != stage.pk or reply.provider_name == AUTHOR_ATTRIBUTION:
        return False
    return (
        live_messages(conversation)
        .filter(role=Message.Role.USER, stage=stage, pk__lt=reply.pk)
        .exists()
    )


def _retried_reply(request: TurnRequest, now: datetime) -> tuple[Message, bool]:
    """The reply a retry writes again, and whether it was superseded (a finished one was).

    A failed, stopped or interrupted reply stays in the history as it was (it is not
    replayed to the model anyway); a finished one is marked superseded.
    """
    previous = last_reply(request.conversation)
    if previous is None:
        raise NothingToRetry
    if previous.status in RETRYABLE_STATUSES:
        return previous, False
    if previous.status == Message.Status.COMPLETE and _regenerable(
        previous, request.conversation, request.stage
    ):
        Message.objects.filter(pk=previous.pk).update(superseded_at=now)
        return previous, True
    raise NothingToRetry


def _supersede_last_learner_message(request: TurnRequest, now: datetime) -> None:
    """An edit: the learner's last message and every reply after it are superseded."""
    last = _last_learner_message(request.conversation)
    if last is None or request.stage is None or last.stage_id != request.stage.pk:
        raise NothingToEdit
    live_messages(request.conversation).filter(pk__gte=last.pk).exclude(
        role=Message.Role.SYSTEM
    ).update(superseded_at=now)


def _make_room(request: TurnRequest, now: datetime) -> tuple[set[int], bool]:
    """What a retry or an edit changes first: replies left out of the context, superseded."""
    if request.edit:
        _supersede_last_learner_message(request, now)
        return set(), True
    if request.retry:
        previous, superseded = _retried_reply(request, now)
        return {previous.pk}, superseded
    return set(), False


def _save_learner_message(request: TurnRequest) -> Message | None:
    if not request.content:
        return None
    return Message.objects.create(
        conversation=request.conversation,
        role=Message.Role.USER,
        stage=request.stage,
        content=request.content,
    )


def _reply_attribution(
    conversation: Conversation, provider: ResolvedProvider | None, refusal: Refusal | None
) -> dict[str, Any]:
    """Who the reply is from: the provider asked, or, for a refused turn, nobody.

    A refused turn's reply is what the learner sees of the refusal; the refusal is
    saved apart (here) with the provider that would have answered, so no report
    counts the reply as that provider's turn.
    """
    if provider is None:
        return {}
    named = {
        "provider_id": provider.config_id,
        **attribution_columns(provider.label, provider.model),
    }
    if refusal is not None:
        return {
            "refusal": TurnRefusal.objects.create(
                conversation=conversation, code=refusal.code, **named
            )
        }
    return {**named, "experiment_arm_id": provider.experiment_arm_id}


def _create_reply(request: TurnRequest, attribution: dict[str, Any], **turn: Any) -> Message:
    try:
        # No savepoint of its own: a violation ends the whole (caller's) transaction anyway.
        with transaction.atomic(savepoint=False):
            return Message.objects.create(
                conversation=request.conversation,
                role=Message.Role.ASSISTANT,
                stage=request.stage,
                status=Message.Status.STREAMING,
                **turn,
                **attribution,
            )
    except IntegrityError:
        # Another process won the race the lock could not see (the constraint did).
        raise TurnInFlight from None


def open_turn(request: TurnRequest, *, runner_id: str, now: datetime) -> OpenedTurn | None:
    """Save the learner's message, ask the spending guard, save the streaming reply row;
    then prepare the call.

    Raises :class:`TurnInFlight` (nothing saved) when the conversation has a turn in
    flight, :class:`NothingToRetry` for a retry with nothing to retry and
    :class:`NothingToEdit` for an edit with nothing to edit. Returns
    ``None`` for an opening the stage no longer needs. A failure after the rows are
    saved (provider, history) comes back as ``failed``, never as an exception, so
    the turn can still end with an ``error`` frame.
    """
    conversation = request.conversation
    provider = _resolve(request.user)
    with transaction.atomic():
        lock_conversation(conversation)
        if turn_in_flight(conversation) is not None:
            raise TurnInFlight
        if request.opening and not needs_opening(conversation, request.stage):
            return None
        exclude, supersedes = _make_room(request, now)
        user_message = _save_learner_message(request)
        refusal = guard.check_turn_allowed(request.user, provider) if provider else None
        reply = _create_reply(
            request,
            _reply_attribution(conversation, provider, refusal),
            runner_id=runner_id,
            heartbeat_at=now,
        )
    opened = OpenedTurn(
        reply=reply,
        user_message=user_message,
        provider=provider,
        refusal=refusal,
        supersedes=supersedes,
    )
    if provider is None:
        opened.failed = True
    elif refusal is None and request.stage is not None:
        try:
            opened.context = build_turn_context(
                conversation,
                request.stage,
                exclude | {reply.pk},
                user=request.user,
                teaching=request.teaching,
            )
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
    # What the seam measured (its ``usage`` event), the answering provider included.
    record: TurnRecord | None = None


def _answer_columns(record: TurnRecord) -> dict[str, Any]:
    """The seam's numbers for the reply row, and the provider that finally answered.

    A record that names no provider or model leaves that part of the reply's
    attribution as the turn opened it.
    """
    columns = record_columns(record)
    if not columns["provider_name"]:
        del columns["provider_name"], columns["provider_id"]
    if not columns["model"]:
        del columns["model"]
    return columns


def _read_reply(reply_id: int) -> Message:
    # With its refusal, if any: the turn record is read from async code, which cannot query.
    return Message.objects.select_related("refusal").get(pk=reply_id)


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
    }
    if result.record is not None:
        changes.update(_answer_columns(result.record))
    # Timed by the runner from when it took the turn up, not by the seam.
    changes.update(time_to_first_token_ms=first_token_ms, total_time_ms=total_ms)
    updated = Message.objects.filter(pk=reply_id, status=Message.Status.STREAMING).update(**changes)
    return _read_reply(reply_id) if updated else None


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
    return _read_reply(row.pk) if updated else None
