"""A lesson's teaching content in its YAML file: learning objectives and questions.

yaml_io reads and checks the file; this module holds what the file says about
objectives (of the lesson and of its chat stages) and questions with their hints,
writes it to the database, and reads it back for export. Rows are updated in
place by position, like stages, so learners' records (ObjectiveRecord, AnswerRecord,
HintRecord) keep pointing at them when a file is imported again.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from django.db import models

from lessons_app.models import (
    QUESTION_NEEDS_ANSWER_OR_RUBRIC,
    Hint,
    LearningObjective,
    Lesson,
    Question,
    Stage,
)

OBJECTIVES_KEY = "objectives"
QUESTIONS_KEY = "questions"
# A question's keys in a lessons file, and the model field each one fills.
QUESTION_FIELDS: dict[str, str] = {
    "prompt": "prompt",
    "answer": "expected_answer",
    "rubric": "rubric",
}
QUESTION_PROMPT_KEY = "prompt"
QUESTION_HINTS_KEY = "hints"
QUESTION_KEYS: tuple[str, ...] = (*QUESTION_FIELDS, QUESTION_HINTS_KEY)
# The stage keys a chat stage has besides its kind's fields.
CHAT_TEACHING_KEYS: tuple[str, ...] = (OBJECTIVES_KEY, QUESTIONS_KEY)
OBJECTIVE_MAX_LENGTH = LearningObjective._meta.get_field("text").max_length
NEEDS_ANSWER_OR_RUBRIC = QUESTION_NEEDS_ANSWER_OR_RUBRIC


@dataclass(frozen=True)
class QuestionPlan:
    prompt: str
    expected_answer: str = ""
    rubric: str = ""
    hints: tuple[str, ...] = ()


@dataclass(frozen=True)
class TeachingPlan:
    """What a file says a chat stage teaches (empty for other kinds)."""

    objectives: tuple[str, ...] = ()
    questions: tuple[QuestionPlan, ...] = field(default_factory=tuple)


def _sync_rows(
    rows: Sequence[models.Model], wanted: Sequence[dict[str, Any]], create: Any
) -> tuple[list[models.Model], bool]:
    """Make ``rows`` (ordered) hold ``wanted``'s values by position; and if anything changed."""
    changed = False
    kept: list[models.Model] = []
    for position, values in enumerate(wanted, start=1):
        values = {**values, "position": position}
        if position <= len(rows):
            row = rows[position - 1]
            if any(getattr(row, name) != value for name, value in values.items()):
                for name, value in values.items():
                    setattr(row, name, value)
                row.save()
                changed = True
        else:
            row = create(**values)
            changed = True
        kept.append(row)
    for surplus in rows[len(wanted) :]:
        surplus.delete()
        changed = True
    return kept, changed


def sync_objectives(lesson: Lesson, stage: Stage | None, texts: Sequence[str]) -> bool:
    """Make the lesson's (``stage`` None) or a stage's objectives ``texts``; if any changed."""
    rows = list(
        LearningObjective.objects.filter(lesson=lesson, stage=stage).order_by("position", "id")
    )
    _, changed = _sync_rows(
        rows,
        [{"text": text} for text in texts],
        lambda **values: LearningObjective.objects.create(lesson=lesson, stage=stage, **values),
    )
    return changed


def sync_questions(stage: Stage, questions: Sequence[QuestionPlan]) -> bool:
    """Make the stage's questions and their hints ``questions``; if any changed."""
    rows = list(stage.questions.order_by("position", "id"))
    wanted = [
        {"prompt": q.prompt, "expected_answer": q.expected_answer, "rubric": q.rubric}
        for q in questions
    ]
    kept, changed = _sync_rows(
        rows, wanted, lambda **values: Question.objects.create(stage=stage, **values)
    )
    for question, plan in zip(kept, questions, strict=True):
        hints = list(question.hints.order_by("position", "id"))
        _, hints_changed = _sync_rows(
            hints,
            [{"text": text} for text in plan.hints],
            lambda question=question, **values: Hint.objects.create(question=question, **values),
        )
        changed = changed or hints_changed
    return changed


def sync_stage(stage: Stage, plan: TeachingPlan) -> bool:
    """Write a stage's objectives and questions from its file; if any changed."""
    objectives = sync_objectives(stage.lesson, stage, plan.objectives)
    questions = sync_questions(stage, plan.questions)
    return objectives or questions


# --- Export -------------------------------------------------------------------


def lesson_objectives_data(lesson: Lesson) -> list[str]:
    """The lesson-wide objectives' texts, in order."""
    return list(
        LearningObjective.objects.filter(lesson=lesson, stage=None)
        .order_by("position", "id")
        .values_list("text", flat=True)
    )


def _question_data(question: Question) -> dict[str, Any]:
    data: dict[str, Any] = {QUESTION_PROMPT_KEY: question.prompt}
    for key, name in QUESTION_FIELDS.items():
        value = getattr(question, name)
        if key != QUESTION_PROMPT_KEY and value:
            data[key] = value
    hints = [hint.text for hint in question.hints.order_by("position", "id")]
    if hints:
        data[QUESTION_HINTS_KEY] = hints
    return data


def stage_teaching_data(stage: Stage) -> dict[str, Any]:
    """A stage's ``objectives`` and ``questions`` keys, those that are not empty."""
    data: dict[str, Any] = {}
    objectives = list(stage.objectives.order_by("position", "id").values_list("text", flat=True))
    if objectives:
        data[OBJECTIVES_KEY] = objectives
    questions = [_question_data(q) for q in stage.questions.order_by("position", "id")]
    if questions:
        data[QUESTIONS_KEY] = questions
    return data
