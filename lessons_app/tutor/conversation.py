"""What a chat socket reads and changes in the database, apart from the turns themselves.

Plain synchronous functions (selectors and services); the session calls each on the
chat's database pool (``lessons_app.tutor.database``), one call per step, so each
step is one trip to a database thread.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum
from typing import Any

from django.db import transaction
from django.http import Http404

from lessons_app import services
from lessons_app.models import Conversation, Lesson, LessonProgress, Message, Stage
from lessons_app.rendering import join_wrapped_lines
from lessons_app.reply_errors import learner_error_message
from lessons_app.stage_kinds import kind_of
from lessons_app.teaching import (
    NO_TEACHING,
    StageTeaching,
    checklist,
    load_learner_teaching,
    load_stage_teaching,
)
from lessons_app.tutor import socket_reads, turn_reads
from lessons_app.tutor.protocol import TEACHING_CHECKLIST
from llm_app.demo_provider import is_demo_model

# Who an authored opening message is from (it has no provider).
AUTHOR_ATTRIBUTION = "Lesson author"


class TurnInFlight(Exception):
    """The conversation already has a turn in flight (on any socket, in any process)."""


def lock_conversation(conversation: Conversation) -> None:
    """Queue up behind other changes to this conversation until the transaction ends.

    On PostgreSQL a row lock; SQLite takes its write lock when the (IMMEDIATE)
    transaction begins, which serialises writers just the same.
    """
    turn_reads.lock(conversation.pk)


def turn_in_flight(conversation: Conversation) -> int | None:
    """The id of the conversation's reply that is still streaming, if any."""
    return turn_reads.streaming_reply(conversation.pk)


# What staff see of a reply's record in the chat ("A message object" in docs/protocol.md).
STAFF_RECORD_FIELDS = (
    "provider",
    "model",
    "input_tokens",
    "output_tokens",
    "cost_usd",
    "time_to_first_token_ms",
)


def serialize_message(
    message: Message, *, for_staff: bool, rating: tuple[int, str] | None = None
) -> dict[str, Any]:
    """A stored message as the browser sees it; provider details only for staff."""
    data: dict[str, Any] = {
        "id": message.pk,
        "role": message.role,
        "content": message.content,
        "status": message.status,
        "error_code": message.error_code,
        # Why it ended early, in the learner's language (the one its code names); None for
        # a reply that got to its end.
        "error_message": learner_error_message(message.error_code),
        "stage_id": message.stage_id,
        "created_at": message.created_at.isoformat() if message.created_at else None,
        "superseded_at": message.superseded_at.isoformat() if message.superseded_at else None,
    }
    if message.role == Message.Role.ASSISTANT:
        record = message.turn_record()
        data["is_demo"] = is_demo_model(record.model)
        data["rating"] = {"value": rating[0], "comment": rating[1]} if rating else None
        if for_staff:
            data.update(record.pick(STAFF_RECORD_FIELDS))
    return data


def serialize_stage(progress: LessonProgress, stages: list[Stage]) -> dict[str, Any]:
    index = services.current_stage_index(progress, stages) if stages else 0
    stage = stages[index] if stages else None
    return {
        "id": stage.pk if stage else None,
        "title": stage.title if stage else "",
        "kind": stage.kind if stage else "",
        "number": index + 1,
        "count": len(stages),
        "is_last": index == len(stages) - 1,
        "completed": progress.completed,
    }


def find_visible_lesson(user, slug: str) -> Lesson | None:
    """The lesson a socket may chat about, or ``None`` (drafts only for staff)."""
    try:
        return services.get_visible_lesson_or_404(user, slug)
    except Http404:
        return None


def find_chat(user, slug: str) -> tuple[Lesson, Conversation] | None:
    """The lesson a socket may chat about and the learner's conversation on it.

    ``None`` when the lesson is not there for this user. Only the conversation, not the
    learner's progress: that is read (and on a first visit started) with the history, in
    the socket's next trip, so that where the learner is and what they see are read at
    one moment, after the socket watches the conversation.

    One query for both when the conversation exists (every socket but a learner's first
    on the lesson): the conversation with its lesson, through the same visibility rule.
    """
    existing = socket_reads.conversation_with_lesson(user, slug)
    if existing is not None:
        return existing.lesson, existing
    lesson = find_visible_lesson(user, slug)
    if lesson is None:
        return None
    return lesson, services.start_conversation(user, lesson)


@dataclass(frozen=True)
class StagePosition:
    """Where the learner is in the lesson: the current stage, and the browser's ``stage`` object."""

    stage: Stage | None
    data: dict[str, Any]
    # What the stage teaches, read here so that a turn needs no trip for it.
    teaching: StageTeaching = NO_TEACHING


def stage_position(user, lesson: Lesson) -> StagePosition:
    """The learner's current stage, starting the lesson on their first visit.

    With what the stage teaches and the learner's checklist on it (no query on a
    stage that teaches nothing).
    """
    progress = services.get_or_start_progress(user, lesson)
    return _position(user, progress, services.ordered_stages(lesson))


def _position(user, progress: LessonProgress, stages: list[Stage]) -> StagePosition:
    stage = stages[services.current_stage_index(progress, stages)] if stages else None
    teaching = load_stage_teaching(stage)
    data = serialize_stage(progress, stages)
    data[TEACHING_CHECKLIST] = checklist(teaching, load_learner_teaching(user, teaching))
    return StagePosition(stage=stage, data=data, teaching=teaching)


@dataclass
class ChatState:
    """Everything a socket shows after (re)connecting, read at one moment."""

    stage: Stage | None
    stage_data: dict[str, Any]
    messages: list[Message]
    ratings: dict[int, tuple[int, str]]
    teaching: StageTeaching = NO_TEACHING

    @property
    def needs_opening(self) -> bool:
        """:func:`needs_opening`, read from these messages instead of asking the database."""
        return _tutor_leads(self.stage) and not any(
            message.role == Message.Role.ASSISTANT and message.stage_id == self.stage.pk
            for message in self.messages
        )

    @property
    def in_flight(self) -> Message | None:
        """The reply of the turn in flight, if there is one (at most one: a constraint)."""
        return next(
            (message for message in self.messages if message.status == Message.Status.STREAMING),
            None,
        )

    def serialized_messages(self, *, for_staff: bool) -> list[dict[str, Any]]:
        return [
            serialize_message(message, for_staff=for_staff, rating=self.ratings.get(message.pk))
            for message in self.messages
        ]


def conversation_of(user, lesson: Lesson) -> Conversation:
    """The learner's conversation on ``lesson``, starting the lesson on their first visit."""
    services.get_or_start_progress(user, lesson)
    return services.get_conversation(user, lesson)


def chat_state(user, lesson: Lesson, conversation: Conversation) -> ChatState:
    """The current stage and the conversation's saved messages, starting the lesson on
    the learner's first visit (its start marker is then among the messages).

    The progress once, the stages once, and the messages with their ratings (one to
    one) in one query: every socket of every learner asks this after a restart, so
    these are prepared queries (lessons_app.tutor.socket_reads).
    """
    progress = socket_reads.progress_of(user, lesson)
    if progress is None:
        progress = services.start_progress(user, lesson, conversation=conversation)
    position = _position(user, progress, socket_reads.stages_of(lesson))
    messages, ratings = socket_reads.messages_with_ratings(conversation)
    return ChatState(
        stage=position.stage,
        stage_data=position.data,
        messages=messages,
        ratings=ratings,
        teaching=position.teaching,
    )


def advance_unless_busy(
    user, lesson: Lesson, conversation: Conversation, *, from_stage_id: int | None
) -> StagePosition:
    """Move the learner on from ``from_stage_id``, as the page's Next button does.

    Refused while a turn is in flight. The same guarded service as the button: if the
    learner has left that stage already, nothing moves, and the answer is where they are.
    """
    with transaction.atomic():
        lock_conversation(conversation)
        if turn_in_flight(conversation) is not None:
            raise TurnInFlight
        services.advance(user, lesson, from_stage_id=from_stage_id)
    return stage_position(user, lesson)


class Opening(Enum):
    NONE = "none"
    AUTHORED = "authored"
    TUTOR = "tutor"


def _tutor_leads(stage: Stage | None) -> bool:
    return stage is not None and kind_of(stage).tutor_leads


def needs_opening(conversation: Conversation, stage: Stage | None) -> bool:
    """A stage the tutor leads (chat) opens with a tutor message, until the tutor has spoken."""
    return (
        _tutor_leads(stage)
        and not conversation.messages.filter(role=Message.Role.ASSISTANT, stage=stage).exists()
    )


def open_stage(conversation: Conversation, stage: Stage | None) -> tuple[Opening, Message | None]:
    """How a chat stage opens: the author's opening message (saved here), or a tutor turn.

    Under the conversation's lock, so two tabs arriving at once save one opening; the
    lock is taken only for a stage that looks unopened (once opened, it stays so), so
    the sockets of an opened stage open without writing.
    """
    if not needs_opening(conversation, stage):
        return Opening.NONE, None
    with transaction.atomic():
        lock_conversation(conversation)
        if not needs_opening(conversation, stage):
            return Opening.NONE, None
        if not stage.opening_message.strip():
            return Opening.TUTOR, None
        message = Message.objects.create(
            conversation=conversation,
            role=Message.Role.ASSISTANT,
            stage=stage,
            # As the author meant it: sentences not broken where the YAML source wrapped.
            content=join_wrapped_lines(stage.opening_message.strip()),
            status=Message.Status.COMPLETE,
            provider_name=AUTHOR_ATTRIBUTION,
        )
        return Opening.AUTHORED, message
