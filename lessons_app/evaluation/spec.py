"""What the evaluation knows of a chat stage, read from the database before any model call.

The conversations run on an event loop, where the database may not be read, so each
stage's prompt inputs (its content, the previous stage's) and what it teaches (mode,
questions with their expected answers, objectives) are gathered here first, with the
same functions the chat uses.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.db.models import Q

from lessons_app.content import previous_stage
from lessons_app.models import LearningObjective, Lesson, Stage, TutoringMode
from lessons_app.services import ordered_stages
from lessons_app.stage_kinds import kind_of
from lessons_app.tutor.turns import safe_stage_content

# Modes in which the tutor must not state a question's answer (docs/evaluation.md).
WITHHOLDING_MODES = frozenset({TutoringMode.SOCRATIC, TutoringMode.HINT_LADDER})


@dataclass(frozen=True)
class QuestionSpec:
    id: int
    prompt: str
    expected_answer: str = ""
    rubric: str = ""
    hints: tuple[str, ...] = ()


@dataclass(frozen=True)
class ObjectiveSpec:
    id: int
    text: str


@dataclass(frozen=True)
class StageSpec:
    stage: Stage
    current_content: str
    previous_content: str
    mode: str = TutoringMode.OPEN
    questions: tuple[QuestionSpec, ...] = ()
    objectives: tuple[ObjectiveSpec, ...] = ()

    @property
    def withholds_answers(self) -> bool:
        return self.mode in WITHHOLDING_MODES


def stage_spec(stage: Stage) -> StageSpec:
    """One stage's prompt inputs and teaching, as the chat would build them."""
    previous = previous_stage(stage) if kind_of(stage).builds_on_previous else None
    questions = stage.questions.prefetch_related("hints").order_by("position", "id")
    objectives = LearningObjective.objects.filter(
        Q(stage=stage) | Q(stage__isnull=True), lesson=stage.lesson_id
    ).order_by("position", "id")
    return StageSpec(
        stage=stage,
        current_content=safe_stage_content(stage),
        previous_content=safe_stage_content(previous),
        mode=stage.tutoring_mode,
        questions=tuple(
            QuestionSpec(
                id=q.pk,
                prompt=q.prompt,
                expected_answer=q.expected_answer,
                rubric=q.rubric,
                hints=tuple(hint.text for hint in q.hints.all()),
            )
            for q in questions
        ),
        objectives=tuple(ObjectiveSpec(id=o.pk, text=o.text) for o in objectives),
    )


def chat_stage_specs(lesson: Lesson) -> list[StageSpec]:
    """The lesson's stages the tutor leads (chat stages), in the learners' order."""
    stages = [stage for stage in ordered_stages(lesson) if kind_of(stage).tutor_leads]
    for stage in stages:
        stage.lesson = lesson  # the prompt reads the title on the event loop
    return [stage_spec(stage) for stage in stages]
