"""The spending guard: daily provider budgets and per-learner daily message limits."""

from __future__ import annotations

from dataclasses import dataclass

from llm_app.providers import ResolvedProvider


@dataclass(frozen=True)
class Refusal:
    """Why a turn may not run; ``message`` is written for the learner."""

    code: str
    message: str


def check_turn_allowed(user, provider: ResolvedProvider) -> Refusal | None:
    """``None`` when the turn may run, else why not."""
    return None
