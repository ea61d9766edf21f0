"""The rows every chat socket reads when it opens, as prepared queries.

After a restart every learner's socket reconnects at once, and building these queries
with the ORM cost a worker more than anything else in opening one
(lessons_app.tutor.prepared says why). They are ORM queries still, each the one it
replaces, and they give the same model instances; test_socket_reads.py holds each to
its plain ORM form, row for row and field for field.
"""

from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.base_user import AbstractBaseUser
from django.contrib.sessions.models import Session

from lessons_app import services
from lessons_app.models import Conversation, Lesson, LessonProgress, Message, Stage, TurnRefusal
from lessons_app.tutor.prepared import PreparedQuery, load, model_fields, width


def _conversation_query(*, staff: bool) -> PreparedQuery:
    return PreparedQuery(
        lambda user_id, slug: Conversation.objects.filter(
            user_id=user_id,
            lesson__slug=slug,
            **services.visible_lesson_lookups(staff=staff, prefix="lesson__"),
        ).values_list(*model_fields(Conversation), *model_fields(Lesson, "lesson__")),
        user_id=int,
        slug=str,
    )


# Staff may open drafts (services.visible_lesson_lookups): a query each.
_CONVERSATION = {staff: _conversation_query(staff=staff) for staff in (False, True)}

_PROGRESS = PreparedQuery(
    lambda user_id, lesson_id: LessonProgress.objects.filter(
        user_id=user_id, lesson_id=lesson_id
    ).values_list(*model_fields(LessonProgress)),
    user_id=int,
    lesson_id=int,
)

_STAGES = PreparedQuery(
    lambda lesson_id: (
        Stage.objects.filter(lesson_id=lesson_id)
        .order_by(*services.STAGE_ORDER)
        .values_list(*model_fields(Stage))
    ),
    lesson_id=int,
)

# A message, then its rating's value and comment (none: no rating; the value is never
# null), then its refusal (lessons_app.models.Message.turn_record reads it).
_MESSAGES = PreparedQuery(
    lambda conversation_id: (
        Message.objects.filter(conversation_id=conversation_id)
        .order_by("created_at", "id")
        .values_list(
            *model_fields(Message),
            "rating__value",
            "rating__comment",
            *model_fields(TurnRefusal, "refusal__"),
        )
    ),
    conversation_id=int,
)
_RATING_AT = width(Message)
_REFUSAL_AT = _RATING_AT + 2

# By its key alone (Django's store also asks for an expiry after now: see session_row).
_SESSION = PreparedQuery(
    lambda session_key: Session.objects.filter(session_key=session_key).values_list(
        *model_fields(Session)
    ),
    session_key=str,
)


# The learner a session names (Django's ModelBackend.get_user asks for it by its id).
_USER = PreparedQuery(
    lambda user_id: (
        get_user_model().objects.filter(pk=user_id).values_list(*model_fields(get_user_model()))
    ),
    user_id=int,
)


def user_row(user_id: int) -> AbstractBaseUser | None:
    """The user ``user_id``, active or not, if there is one."""
    rows = _USER.rows(user_id=user_id)
    return load(get_user_model(), rows[0]) if rows else None


def session_row(session_key: str | None) -> Session | None:
    """The session row of ``session_key``, expired or not (its ``expire_date`` says)."""
    rows = _SESSION.rows(session_key=session_key)
    return load(Session, rows[0]) if rows else None


def conversation_with_lesson(user, slug: str) -> Conversation | None:
    """The learner's conversation on the lesson ``slug`` if they may open it, its
    ``lesson`` loaded; ``None`` if there is no such lesson for them or no conversation yet.
    """
    rows = _CONVERSATION[bool(user.is_staff)].rows(user_id=user.pk, slug=slug)
    if not rows:
        return None
    # At most one row: a learner has one conversation per lesson (a unique constraint).
    conversation = load(Conversation, rows[0])
    conversation.lesson = load(Lesson, rows[0], width(Conversation))
    conversation.user = user
    return conversation


def progress_of(user, lesson: Lesson) -> LessonProgress | None:
    """The learner's progress on ``lesson``, if they have started it."""
    rows = _PROGRESS.rows(user_id=user.pk, lesson_id=lesson.pk)
    return load(LessonProgress, rows[0]) if rows else None


def stages_of(lesson: Lesson) -> list[Stage]:
    """:func:`lessons_app.services.ordered_stages`."""
    stages = [load(Stage, row) for row in _STAGES.rows(lesson_id=lesson.pk)]
    for stage in stages:
        stage.lesson = lesson
    return stages


def messages_with_ratings(
    conversation: Conversation,
) -> tuple[list[Message], dict[int, tuple[int, str]]]:
    """The conversation's messages, oldest first, each with its refusal (if any) loaded,
    and their ratings as ``lessons_app.ratings.ratings_of`` gives them."""
    messages = []
    ratings: dict[int, tuple[int, str]] = {}
    for row in _MESSAGES.rows(conversation_id=conversation.pk):
        message = load(Message, row)
        message.conversation = conversation
        if message.refusal_id is not None:
            message.refusal = load(TurnRefusal, row, _REFUSAL_AT)
        value: Any = row[_RATING_AT]
        if value is not None:
            ratings[message.pk] = (value, row[_RATING_AT + 1])
        messages.append(message)
    return messages, ratings
