"""The criteria a conversation is scored on, and what one verdict is.

Judged criteria are the judge model's reading of the transcript; checks are
computed here from the transcript and the authored stage, with no model. Both
are listed, with what pass and fail mean, in docs/evaluation.md.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum


class Outcome(StrEnum):
    PASS = "pass"  # noqa: S105 (a verdict, not a password)
    FAIL = "fail"
    # The criterion does not apply to this stage or conversation.
    NOT_APPLICABLE = "n/a"
    # The judge's answer could not be read for this criterion.
    ERROR = "error"


class Criterion(StrEnum):
    """Judged by the judge model."""

    # Socratic and hint-ladder modes: the tutor never stated a question's final answer.
    ANSWER_WITHHELD = "answer_withheld"
    # The tutor guided with questions rather than lecturing.
    ASKS_QUESTIONS = "asks_questions"
    # What the tutor said about the learner's answers was correct.
    FEEDBACK_CORRECT = "feedback_correct"
    # The tutor recorded the objectives the learner showed, and only those.
    OBJECTIVES_RECORDED = "objectives_recorded"


class Check(StrEnum):
    """Computed without a model."""

    # Socratic and hint-ladder modes: no authored expected answer appears verbatim.
    ANSWER_NOT_VERBATIM = "answer_not_verbatim"
    # Every tool call names a tool the tutor was offered, with valid arguments.
    TOOL_CALLS_VALID = "tool_calls_valid"
    # Every tutor reply arrived (no error from the seam).
    TUTOR_REPLIED = "tutor_replied"


@dataclass(frozen=True)
class Verdict:
    outcome: Outcome
    reason: str = ""


def score(verdicts: Iterable[Verdict]) -> float | None:
    """The share of applicable verdicts that passed; ``None`` when none applied.

    An unreadable judge answer counts against the score: a judge that cannot be
    read is no evidence the tutor did well.
    """
    counted = [v for v in verdicts if v.outcome not in (Outcome.NOT_APPLICABLE,)]
    if not counted:
        return None
    return sum(v.outcome is Outcome.PASS for v in counted) / len(counted)
