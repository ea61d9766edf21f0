"""The deterministic checks of a conversation: no model, the same answer every run."""

from __future__ import annotations

import re
from typing import Any

from lessons_app.evaluation.play import ToolCall, Transcript
from lessons_app.evaluation.spec import StageSpec
from lessons_app.evaluation.verdicts import Check, Outcome, Verdict

_SPACE = re.compile(r"\s+")
_JSON_TYPES: dict[str, type | tuple[type, ...]] = {
    "string": str,
    "integer": int,
    "number": (int, float),
    "boolean": bool,
    "object": dict,
    "array": list,
}


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


def _argument_problem(call: ToolCall, schema: dict[str, Any]) -> str:
    arguments = call.arguments or {}
    properties = schema.get("properties") or {}
    missing = [name for name in schema.get("required") or [] if name not in arguments]
    if missing:
        return f"{call.name} lacks {', '.join(missing)}"
    for name, value in arguments.items():
        expected = (properties.get(name) or {}).get("type")
        if name not in properties and schema.get("additionalProperties") is False:
            return f"{call.name} has an unknown argument {name}"
        wanted = _JSON_TYPES.get(expected) if expected else None
        is_bool = isinstance(value, bool) and expected in ("integer", "number")
        if wanted is not None and (not isinstance(value, wanted) or is_bool):
            return f"{call.name}: {name} should be {expected}"
    return ""


def tool_calls_valid(transcript: Transcript, tools: list[dict[str, Any]] | None) -> Verdict:
    """Every tool call names an offered tool, and its arguments fit that tool's schema."""
    calls = transcript.tool_calls()
    if not calls:
        return Verdict(Outcome.NOT_APPLICABLE, "no tool calls")
    schemas = {tool["function"]["name"]: tool["function"]["parameters"] for tool in tools or []}
    for call in calls:
        if call.name not in schemas:
            return Verdict(Outcome.FAIL, f"{call.name} was not offered")
        problem = _argument_problem(call, schemas[call.name])
        if problem:
            return Verdict(Outcome.FAIL, problem)
    return Verdict(Outcome.PASS, f"{len(calls)} call(s)")


def tutor_replied(transcript: Transcript) -> Verdict:
    failed = [turn.error for turn in transcript.tutor_turns() if turn.error]
    if failed:
        return Verdict(Outcome.FAIL, f"tutor replies failed: {', '.join(failed)}")
    return Verdict(Outcome.PASS)


def run_checks(
    spec: StageSpec, transcript: Transcript, tools: list[dict[str, Any]] | None
) -> dict[Check, Verdict]:
    return {
        Check.ANSWER_NOT_VERBATIM: answer_not_verbatim(spec, transcript),
        Check.TOOL_CALLS_VALID: tool_calls_valid(transcript, tools),
        Check.TUTOR_REPLIED: tutor_replied(transcript),
    }
