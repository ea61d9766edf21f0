"""What the evaluation knows of a chat stage, read from the database before any model call.

The conversations run on an event loop, where the database may not be read, so each
stage's prompt inputs (its content, the previous stage's) and what it teaches
(:class:`lessons_app.teaching.StageTeaching`: mode, objectives, questions with their
expected answers and hints) are gathered here first, with the functions the chat uses.
"""

from __future__ import annotations

from dataclasses import dataclass

from lessons_app.content import previous_stage
from lessons_app.models import Lesson, Stage, TutoringMode
from lessons_app.services import ordered_stages
from lessons_app.stage_kinds import kind_of
from lessons_app.teaching import (
    NO_TEACHING,
    ObjectiveItem,
    QuestionItem,
    StageTeaching,
    load_stage_teaching,
)
from lessons_app.tutor.turns import safe_stage_content

# Modes in which the tutor must not state a question's answer (docs/evaluation.md).
WITHHOLDING_MODES = frozenset({TutoringMode.SOCRATIC, TutoringMode.HINT_LADDER})


@dataclass(frozen=True)
class StageSpec:
    stage: Stage
    current_content: str
    previous_content: str
    teaching: StageTeaching = NO_TEACHING

    @property
    def mode(self) -> str:
        return self.teaching.mode

    @property
    def questions(self) -> tuple[QuestionItem, ...]:
        return self.teaching.questions

    @property
    def objectives(self) -> tuple[ObjectiveItem, ...]:
        return self.teaching.objectives

    @property
    def withholds_answers(self) -> bool:
        return self.mode in WITHHOLDING_MODES


def stage_spec(stage: Stage) -> StageSpec:
    """One stage's prompt inputs and teaching, as the chat would build them."""
    previous = previous_stage(stage) if kind_of(stage).builds_on_previous else None
    return StageSpec(
        stage=stage,
        current_content=safe_stage_content(stage),
        previous_content=safe_stage_content(previous),
        teaching=load_stage_teaching(stage),
    )


def chat_stage_specs(lesson: Lesson) -> list[StageSpec]:
    """The lesson's stages the tutor leads (chat stages), in the learners' order."""
    stages = [stage for stage in ordered_stages(lesson) if kind_of(stage).tutor_leads]
    for stage in stages:
        stage.lesson = lesson  # the prompt reads the title on the event loop
    return [stage_spec(stage) for stage in stages]
