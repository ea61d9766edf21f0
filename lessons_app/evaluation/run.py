"""A whole evaluation: every persona on every chat stage of a lesson, played and scored.

:func:`run_evaluation` reads what it needs from the database first (the stages,
through :mod:`lessons_app.evaluation.spec`), then plays and scores the
conversations one after another on an event loop, with no database access and
no rows written: a persona is not a learner, so the evaluation creates no user,
conversation, message or progress.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime

from lessons_app.evaluation import checks, judge, play
from lessons_app.evaluation.personas import Persona
from lessons_app.evaluation.spec import StageSpec, chat_stage_specs
from lessons_app.evaluation.verdicts import Check, Criterion, Outcome, Verdict, score
from lessons_app.models import Lesson
from llm_app.providers import ResolvedProvider

Progress = Callable[[str], object]


class NothingToEvaluate(ValueError):
    """The lesson has no chat stage, so no persona has anyone to talk to."""


@dataclass
class ConversationResult:
    stage_id: int
    stage_title: str
    mode: str
    persona: str
    transcript: play.Transcript
    verdicts: dict[Criterion, Verdict]
    checks: dict[Check, Verdict]

    @property
    def score(self) -> float | None:
        return score([*self.verdicts.values(), *self.checks.values()])


@dataclass
class EvalReport:
    lesson: str
    provider: str
    model: str
    judge: str
    started_at: datetime
    results: list[ConversationResult] = field(default_factory=list)

    @property
    def score(self) -> float | None:
        scores = [r.score for r in self.results if r.score is not None]
        return sum(scores) / len(scores) if scores else None

    def pass_rates(self) -> dict[str, float | None]:
        """Per criterion and check, the share of applicable conversations that passed."""
        rates: dict[str, float | None] = {}
        for name in [*Criterion, *Check]:
            outcomes = [(r.verdicts.get(name) or r.checks.get(name)).outcome for r in self.results]
            counted = [o for o in outcomes if o is not Outcome.NOT_APPLICABLE]
            rates[name.value] = (
                sum(o is Outcome.PASS for o in counted) / len(counted) if counted else None
            )
        return rates


@dataclass(frozen=True)
class Players:
    tutor: ResolvedProvider
    judge: ResolvedProvider
    # Persona name -> the provider playing that learner (the judge unless it names one).
    learners: Mapping[str, ResolvedProvider] = field(default_factory=dict)


async def evaluate_one(
    spec: StageSpec, persona: Persona, players: Players, progress: Progress
) -> ConversationResult:
    learner = players.learners.get(persona.name, players.judge)
    transcript = await play.play(
        spec, persona, tutor=players.tutor, learner=learner, progress=progress
    )
    progress("judging")
    verdicts = await judge.judge(spec, transcript, players.judge)
    return ConversationResult(
        stage_id=spec.stage.pk,
        stage_title=spec.stage.title,
        mode=spec.mode,
        persona=persona.name,
        transcript=transcript,
        verdicts=verdicts,
        checks=checks.run_checks(spec, transcript),
    )


async def _evaluate_all(
    specs: list[StageSpec], personas: list[Persona], players: Players, progress: Progress
) -> list[ConversationResult]:
    results = []
    total = len(specs) * len(personas)
    for spec in specs:
        for persona in personas:
            number = len(results) + 1
            where = f"[{number}/{total}] {spec.stage.title} / {persona.name}"
            progress(f"{where}: started")
            result = await evaluate_one(
                spec, persona, players, lambda text, where=where: progress(f"{where}: {text}")
            )
            results.append(result)
            shown = "—" if result.score is None else f"{result.score:.0%}"
            progress(f"{where}: done, score {shown}")
    return results


def run_evaluation(
    lesson: Lesson,
    personas: list[Persona],
    players: Players,
    *,
    started_at: datetime,
    progress: Progress = lambda text: None,
) -> EvalReport:
    """Play and score every chat stage of ``lesson`` with every persona."""
    specs = chat_stage_specs(lesson)
    if not specs:
        raise NothingToEvaluate(f"Lesson {lesson.slug!r} has no chat stage to evaluate.")
    report = EvalReport(
        lesson=lesson.slug,
        provider=players.tutor.label,
        model=players.tutor.model,
        judge=players.judge.label,
        started_at=started_at,
    )
    report.results = asyncio.run(_evaluate_all(specs, personas, players, progress))
    return report
