"""The deterministic checks of a conversation: no model, the same answer every run."""

from __future__ import annotations

import json
import re

from lessons_app.evaluation.play import Transcript
from lessons_app.evaluation.spec import StageSpec
from lessons_app.evaluation.verdicts import Check, Outcome, Verdict

_SPACE = re.compile(r"\s+")


def _normal(text: str) -> str:
    return _SPACE.sub(" ", text).strip().casefold()


def answer_not_verbatim(spec: StageSpec, transcript: Transcript) -> Verdict:
    """In modes that withhold answers, no tutor reply contains an expected answer as written.

    Case and runs of white space are ignored; anything looser is the judge's job.
    """
    answers = [q for q in spec.questions if q.expected_answer.strip()]
    if not spec.withholds_answers or not answers:
        return Verdict(Outcome.NOT_APPLICABLE, "no withheld answers on this stage")
    for number, turn in enumerate(transcript.tutor_turns(), start=1):
        said = _normal(turn.text)
        for question in answers:
            if _normal(question.expected_answer) in said:
                return Verdict(
                    Outcome.FAIL,
                    f"tutor reply {number} states the answer to question {question.id}",
                )
    return Verdict(Outcome.PASS)


def tool_calls_valid(transcript: Transcript) -> Verdict:
    """Every tool call names a tool the tutor was offered, with arguments the chat accepts.

    The call's ``valid`` is decided while the conversation is played
    (:func:`lessons_app.evaluation.play.tutor_turn`), by the chat's own check.
    """
    calls = transcript.tool_calls()
    if not calls:
        return Verdict(Outcome.NOT_APPLICABLE, "no tool calls")
    for call in calls:
        if not call.valid:
            return Verdict(Outcome.FAIL, f"{call.name} {json.dumps(call.arguments or {})}")
    return Verdict(Outcome.PASS, f"{len(calls)} call(s)")


def tutor_replied(transcript: Transcript) -> Verdict:
    failed = [turn.error for turn in transcript.tutor_turns() if turn.error]
    if failed:
        return Verdict(Outcome.FAIL, f"tutor replies failed: {', '.join(failed)}")
    return Verdict(Outcome.PASS)


def run_checks(spec: StageSpec, transcript: Transcript) -> dict[Check, Verdict]:
    return {
        Check.ANSWER_NOT_VERBATIM: answer_not_verbatim(spec, transcript),
        Check.TOOL_CALLS_VALID: tool_calls_valid(transcript),
        Check.TUTOR_REPLIED: tutor_replied(transcript),
    }
