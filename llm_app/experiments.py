"""A/B experiments: which provider a learner gets while an experiment is active."""

from __future__ import annotations

from llm_app.models import ExperimentArm


def arm_for(user) -> ExperimentArm | None:
    """The active experiment's arm for ``user``, or ``None`` when no experiment runs."""
    return None
