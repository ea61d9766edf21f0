"""What a chat stage teaches and what a learner has shown on it, as plain data.

A stage's objectives, questions and hints (:class:`StageTeaching`) are read with
the stage when a socket opens or moves on, so a turn needs no extra trip for them;
what the learner has achieved (:class:`LearnerTeaching`) is read in the turn's own
trip, and only on a stage that records anything. The prompts
(lessons_app.prompts), the tools (lessons_app.teaching_tools) and the page's
checklist (:func:`checklist`) all read these, never the models.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from django.db.models import Q

from lessons_app.models import (
    AnswerRecord,
    HintRecord,
    LearningObjective,
    ObjectiveRecord,
    Question,
    Stage,
    TutoringMode,
)
from lessons_app.stage_kinds import kind_of


@dataclass(frozen=True)
class ObjectiveItem:
    id: int
    text: str


@dataclass(frozen=True)
class HintItem:
    id: int
    text: str


@dataclass(frozen=True)
class QuestionItem:
    id: int
    prompt: str
    expected_answer: str = ""
    rubric: str = ""
    hints: tuple[HintItem, ...] = ()


@dataclass(frozen=True)
class StageTeaching:
    """A stage's tutoring mode and what its tutor may record; empty for other kinds."""

    mode: str = TutoringMode.OPEN
    objectives: tuple[ObjectiveItem, ...] = ()
    questions: tuple[QuestionItem, ...] = ()

    @property
    def records_anything(self) -> bool:
        return bool(self.objectives or self.questions)

    def objective(self, objective_id: int) -> ObjectiveItem | None:
        return next((o for o in self.objectives if o.id == objective_id), None)

    def question(self, question_id: int) -> QuestionItem | None:
        return next((q for q in self.questions if q.id == question_id), None)


NO_TEACHING = StageTeaching()


@dataclass
class LearnerTeaching:
    """What one learner has shown on a stage so far, as the tutor recorded it."""

    met: set[int] = field(default_factory=set)  # objective ids
    # Question id -> whether the learner's latest answer was right.
    answers: dict[int, bool] = field(default_factory=dict)
    # Question id -> how many of its hints the learner has been shown (always the first ones).
    hints_shown: dict[int, int] = field(default_factory=dict)

    def next_hint(self, question: QuestionItem) -> HintItem | None:
        shown = self.hints_shown.get(question.id, 0)
        return question.hints[shown] if shown < len(question.hints) else None


def load_stage_teaching(stage: Stage | None) -> StageTeaching:
    """The stage's mode, objectives (its own, then the lesson's) and questions with hints."""
    if stage is None or not kind_of(stage).teaches:
        return NO_TEACHING
    objectives = LearningObjective.objects.filter(
        Q(stage=stage) | Q(lesson_id=stage.lesson_id, stage__isnull=True)
    ).order_by("stage_id", "position", "id")
    # The stage's own objectives first (a null stage sorts first on SQLite, last on PostgreSQL).
    ordered = sorted(objectives, key=lambda o: (o.stage_id is None, o.position, o.id))
    questions = Question.objects.filter(stage=stage).prefetch_related("hints")
    return StageTeaching(
        mode=stage.tutoring_mode,
        objectives=tuple(ObjectiveItem(o.pk, o.text) for o in ordered),
        questions=tuple(
            QuestionItem(
                q.pk,
                q.prompt,
                q.expected_answer,
                q.rubric,
                tuple(HintItem(h.pk, h.text) for h in q.hints.all()),
            )
            for q in questions.order_by("position", "id")
        ),
    )


def load_learner_teaching(user: Any, teaching: StageTeaching) -> LearnerTeaching:
    """What ``user`` has shown on the stage; no query on a stage that records nothing."""
    state = LearnerTeaching()
    if not teaching.records_anything:
        return state
    if teaching.objectives:
        state.met = set(
            ObjectiveRecord.objects.filter(
                user=user, objective_id__in=[o.id for o in teaching.objectives]
            ).values_list("objective_id", flat=True)
        )
    question_ids = [q.id for q in teaching.questions]
    if question_ids:
        for question_id, correct in (
            AnswerRecord.objects.filter(user=user, question_id__in=question_ids)
            .order_by("created_at", "id")
            .values_list("question_id", "correct")
        ):
            state.answers[question_id] = correct
        shown = HintRecord.objects.filter(user=user, hint__question_id__in=question_ids)
        for question_id in shown.values_list("hint__question_id", flat=True):
            state.hints_shown[question_id] = state.hints_shown.get(question_id, 0) + 1
    return state


def checklist(
    teaching: StageTeaching, state: LearnerTeaching, *, records: bool = True
) -> dict[str, Any] | None:
    """The learner's checklist and score on the stage (the ``teaching`` object of
    docs/protocol.md); ``None`` on a stage that records nothing. ``records`` false: the
    provider cannot call tools, so nothing will be ticked off in this chat."""
    if not teaching.records_anything:
        return None
    answered = [q for q in teaching.questions if q.id in state.answers]
    return {
        "mode": teaching.mode,
        "records": records,
        "objectives": [
            {"id": o.id, "text": o.text, "met": o.id in state.met} for o in teaching.objectives
        ],
        "questions": [
            {
                "id": q.id,
                "prompt": q.prompt,
                "answered": q.id in state.answers,
                "correct": state.answers.get(q.id),
                "hints": [h.text for h in q.hints[: state.hints_shown.get(q.id, 0)]],
            }
            for q in teaching.questions
        ],
        "score": {
            "correct": sum(1 for q in answered if state.answers[q.id]),
            "answered": len(answered),
            "questions": len(teaching.questions),
        },
    }
