"""Learners' data under their control: a copy of it, its deletion, and how long it is kept.

What the app holds about a learner is their account, their progress through lessons,
what the tutor recorded of their learning (objectives met, answers, hints shown), their
conversations with the tutor (with the ratings they gave replies) and when they
accepted the AI-use notice. :func:`learner_data` gathers all of it for the learner (or
staff, for them) to download; :func:`delete_learner` removes the account and, through
the database's cascades, everything that hangs from it. With
``TUTOR_CONVERSATION_RETENTION_DAYS`` set, :func:`delete_old_conversations` removes
conversations nobody has written in for that long (``manage.py delete_old_conversations``,
run daily).
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.core.serializers.json import DjangoJSONEncoder
from django.db import transaction
from django.db.models import Exists, Max, OuterRef

from lessons_app.models import (
    AiNoticeAcceptance,
    AnswerRecord,
    Conversation,
    HintRecord,
    LessonProgress,
    Message,
    MessageRating,
    ObjectiveRecord,
)

if TYPE_CHECKING:
    from django.contrib.auth.models import AbstractBaseUser

EXPORT_FORMAT = "tutor-learner-data/1"


def retention_days() -> int:
    """Days a conversation is kept after its last message; 0 keeps them for ever."""
    return settings.TUTOR_CONVERSATION_RETENTION_DAYS


def learner_data(user: AbstractBaseUser, *, now: datetime) -> dict[str, Any]:
    """Everything the app keeps about ``user``, as plain data for a JSON download."""
    acceptance = AiNoticeAcceptance.objects.filter(user=user).first()
    return {
        "format": EXPORT_FORMAT,
        "exported_at": now,
        "account": {
            "username": user.get_username(),
            "email": getattr(user, "email", ""),
            "date_joined": getattr(user, "date_joined", None),
            "last_login": user.last_login,
        },
        "ai_notice": (
            {"accepted_at": acceptance.accepted_at, "notice": acceptance.notice}
            if acceptance
            else None
        ),
        "progress": [
            {
                "lesson": progress.lesson.slug,
                "lesson_title": progress.lesson.title,
                "current_stage": progress.current_stage.title if progress.current_stage else None,
                "completed": progress.completed,
                "started_at": progress.started_at,
                "completed_at": progress.completed_at,
            }
            for progress in LessonProgress.objects.filter(user=user)
            .select_related("lesson", "current_stage")
            .order_by("started_at", "id")
        ],
        "teaching": _teaching_records(user),
        "conversations": [
            _conversation(conversation)
            for conversation in Conversation.objects.filter(user=user)
            .select_related("lesson")
            .order_by("created_at", "id")
        ],
    }


def _teaching_records(user: AbstractBaseUser) -> dict[str, list[dict[str, Any]]]:
    """What the tutor recorded about the learner: objectives met, answers, hints shown."""
    return {
        "objectives_met": [
            {"objective": r.objective.text, "evidence": r.evidence, "at": r.created_at}
            for r in ObjectiveRecord.objects.filter(user=user).select_related("objective")
        ],
        "answers": [
            {
                "question": r.question.prompt,
                "correct": r.correct,
                "feedback": r.feedback,
                "at": r.created_at,
            }
            for r in AnswerRecord.objects.filter(user=user).select_related("question")
        ],
        "hints_shown": [
            {"hint": r.hint.text, "at": r.created_at}
            for r in HintRecord.objects.filter(user=user).select_related("hint")
        ],
    }


def _conversation(conversation: Conversation) -> dict[str, Any]:
    ratings = {
        rating.message_id: rating
        for rating in MessageRating.objects.filter(message__conversation=conversation)
    }
    return {
        "lesson": conversation.lesson.slug,
        "lesson_title": conversation.lesson.title,
        "started_at": conversation.created_at,
        "messages": [
            {
                "id": message.pk,
                "role": message.role,
                "content": message.content,
                "status": message.status,
                "stage": message.stage.title if message.stage else None,
                "created_at": message.created_at,
                "rating": _rating(ratings.get(message.pk)),
                # TUTOR_MODERATION's flag on the learner's message, which staff see.
                "moderation_flag": _flag(message),
            }
            for message in conversation.messages.select_related("stage", "moderation_flag")
        ],
    }


def _flag(message: Message) -> dict[str, Any] | None:
    flag = getattr(message, "moderation_flag", None)
    if flag is None:
        return None
    return {"categories": flag.categories, "flagged_at": flag.created_at}


def _rating(rating: MessageRating | None) -> dict[str, Any] | None:
    if rating is None:
        return None
    return {"value": rating.value, "comment": rating.comment, "rated_at": rating.updated_at}


def learner_data_json(users: list[AbstractBaseUser], *, now: datetime) -> str:
    """One learner's data (a list of several, for staff), as the JSON file they download."""
    data = [learner_data(user, now=now) for user in users]
    return json.dumps(data[0] if len(data) == 1 else data, cls=DjangoJSONEncoder, indent=2)


def delete_learner(user: AbstractBaseUser) -> None:
    """Delete the account and all that is theirs: progress, conversations, ratings, notice.

    A reply in flight is deleted with its conversation; its turn finds no row to finish.
    """
    with transaction.atomic():
        user.delete()


def delete_old_conversations(*, now: datetime, days: int | None = None) -> int:
    """Delete conversations whose newest message is over ``days`` days old; how many.

    A conversation is kept while it is in use: one with a reply in flight is never
    deleted, and one that was written in recently is kept whole, however old its start.
    """
    days = retention_days() if days is None else days
    if days <= 0:
        return 0
    cutoff = now - timedelta(days=days)
    in_flight = Message.objects.filter(conversation=OuterRef("pk"), status=Message.Status.STREAMING)
    stale = (
        Conversation.objects.annotate(last_message_at=Max("messages__created_at"))
        .filter(last_message_at__lt=cutoff)
        .exclude(Exists(in_flight))
    )
    untouched = Conversation.objects.filter(messages__isnull=True, created_at__lt=cutoff)
    ids = {*stale.values_list("pk", flat=True), *untouched.values_list("pk", flat=True)}
    _, deleted = Conversation.objects.filter(pk__in=ids).delete()
    return deleted.get(Conversation._meta.label, 0)
