"""What each learner of a lesson has done and shown: the staff page's rows (selectors only).

A learner of a lesson is anyone with progress or a conversation in it. Per learner:
where they are in the stages, which objectives the tutor recorded as met, their quiz
answers (right of answered, every attempt counted), hints revealed, last activity,
their conversation, learner messages moderation flagged (``TUTOR_MODERATION``), and
the experiment arms their tutor replies came from (a learner
who was in two arms, because the experiment changed, is in both). A fixed number of
queries, whatever the number of learners.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum

from django.contrib.auth import get_user_model
from django.db.models import Count, Max, Q

from lessons_app.models import (
    AnswerRecord,
    Conversation,
    HintRecord,
    LearningObjective,
    Lesson,
    LessonProgress,
    Message,
    ModerationFlag,
    ObjectiveRecord,
    Stage,
)
from lessons_app.services import current_stage_index, ordered_stages
from llm_app.models import ExperimentArm


class StageState(StrEnum):
    DONE = "done"
    CURRENT = "current"
    NOT_YET = "not yet"


@dataclass
class LearnerRow:
    user_id: int
    username: str
    stages: list[StageState] = field(default_factory=list)
    # Objective id -> the tutor's evidence, for those met.
    objectives_met: dict[int, str] = field(default_factory=dict)
    answers: int = 0
    correct_answers: int = 0
    hints: int = 0
    last_activity: datetime | None = None
    conversation_id: int | None = None
    arm_ids: set[int] = field(default_factory=set)
    completed: bool = False
    flags: list[ModerationFlag] = field(default_factory=list)


@dataclass
class LessonOverview:
    lesson: Lesson
    stages: list[Stage]
    objectives: list[LearningObjective]
    arms: list[ExperimentArm]
    rows: list[LearnerRow]

    def flags(self) -> list[tuple[LearnerRow, ModerationFlag]]:
        return [(row, flag) for row in self.rows for flag in row.flags]


def _stage_states(progress: LessonProgress | None, stages: list[Stage]) -> list[StageState]:
    if progress is None:
        return [StageState.NOT_YET] * len(stages)
    if progress.completed:
        return [StageState.DONE] * len(stages)
    here = current_stage_index(progress, stages)
    return [
        StageState.DONE if i < here else StageState.CURRENT if i == here else StageState.NOT_YET
        for i in range(len(stages))
    ]


def _later(*moments: datetime | None) -> datetime | None:
    known = [moment for moment in moments if moment is not None]
    return max(known) if known else None


def _rows(lesson: Lesson, stages: list[Stage]) -> dict[int, LearnerRow]:
    progress = {p.user_id: p for p in LessonProgress.objects.filter(lesson=lesson)}
    conversations = {
        c.user_id: c
        for c in Conversation.objects.filter(lesson=lesson).annotate(
            last_message=Max("messages__created_at")
        )
    }
    user_ids = set(progress) | set(conversations)
    names = dict(get_user_model().objects.filter(pk__in=user_ids).values_list("pk", "username"))
    rows = {}
    for user_id in sorted(user_ids, key=lambda pk: names[pk].casefold()):
        mine, chat = progress.get(user_id), conversations.get(user_id)
        rows[user_id] = LearnerRow(
            user_id=user_id,
            username=names[user_id],
            stages=_stage_states(mine, stages),
            last_activity=_later(
                mine.updated_at if mine else None, chat.last_message if chat else None
            ),
            conversation_id=chat.pk if chat else None,
            completed=bool(mine and mine.completed),
        )
    return rows


def _add_records(rows: dict[int, LearnerRow], lesson: Lesson) -> None:
    for user_id, objective_id, evidence in ObjectiveRecord.objects.filter(
        objective__lesson=lesson, user__in=rows
    ).values_list("user_id", "objective_id", "evidence"):
        rows[user_id].objectives_met[objective_id] = evidence
    answers = (
        AnswerRecord.objects.filter(question__stage__lesson=lesson, user__in=rows)
        .values("user_id")
        .annotate(n=Count("pk"), right=Count("pk", filter=Q(correct=True)))
    )
    for row in answers:
        rows[row["user_id"]].answers = row["n"]
        rows[row["user_id"]].correct_answers = row["right"]
    hints = (
        HintRecord.objects.filter(hint__question__stage__lesson=lesson, user__in=rows)
        .values("user_id")
        .annotate(n=Count("pk"))
    )
    for row in hints:
        rows[row["user_id"]].hints = row["n"]


def _add_flags(rows: dict[int, LearnerRow], lesson: Lesson) -> None:
    flags = ModerationFlag.objects.filter(message__conversation__lesson=lesson).select_related(
        "message__conversation"
    )
    for flag in flags.order_by("message__created_at", "pk"):
        user_id = flag.message.conversation.user_id
        if user_id in rows:
            rows[user_id].flags.append(flag)


def _add_arms(rows: dict[int, LearnerRow], lesson: Lesson) -> list[ExperimentArm]:
    pairs = (
        Message.objects.filter(conversation__lesson=lesson, experiment_arm__isnull=False)
        .values_list("conversation__user_id", "experiment_arm_id")
        .distinct()
    )
    seen: dict[int, set[int]] = defaultdict(set)
    for user_id, arm_id in pairs:
        seen[arm_id].add(user_id)
        if user_id in rows:
            rows[user_id].arm_ids.add(arm_id)
    return list(
        ExperimentArm.objects.filter(pk__in=seen)
        .select_related("experiment", "provider")
        .order_by("experiment__name", "pk")
    )


def lesson_overview(lesson: Lesson, *, arm_id: int | None = None) -> LessonOverview:
    """Every learner of ``lesson`` (or only those the arm ``arm_id`` answered), with stages."""
    stages = ordered_stages(lesson)
    objectives = list(lesson.objectives.order_by("position", "id"))
    rows = _rows(lesson, stages)
    _add_records(rows, lesson)
    _add_flags(rows, lesson)
    arms = _add_arms(rows, lesson)
    shown = [row for row in rows.values() if arm_id is None or arm_id in row.arm_ids]
    return LessonOverview(lesson, stages, objectives, arms, shown)
