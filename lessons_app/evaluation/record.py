"""Keeping a finished evaluation as an :class:`~lessons_app.models.EvalRun` row.

Staff see runs in the admin, and an experiment's results page shows each arm's
provider's evaluation score from them. The row is the run's, not a learner's.
"""

from __future__ import annotations

from lessons_app.evaluation.report import to_json
from lessons_app.evaluation.run import EvalReport
from lessons_app.models import EvalRun, Lesson, attribution_columns
from llm_app.providers import ResolvedProvider


def eval_run_create(*, lesson: Lesson, report: EvalReport, tutor: ResolvedProvider) -> EvalRun:
    return EvalRun.objects.create(
        lesson=lesson,
        provider_id=tutor.config_id,
        **attribution_columns(report.provider, report.model),
        judge_name=report.judge[:100],
        started_at=report.started_at,
        conversations=len(report.results),
        score=report.score,
        report=to_json(report),
    )
