"""The judge: a model that reads one conversation and gives a verdict per criterion.

It is asked for a JSON object, one entry per :class:`Criterion` with ``"pass"``,
``"fail"`` or ``"n/a"`` and a reason. It is given what the tutor was asked to do
(mode, questions with expected answers, objectives) and what the tutor recorded
(its tool calls), so it can tell a leaked answer or an unearned objective. An
answer that cannot be read gives every criterion an ``error`` verdict, never a pass.
"""

from __future__ import annotations

import json
import re
from typing import Any

from lessons_app.evaluation.play import Speaker, Transcript, collect
from lessons_app.evaluation.spec import StageSpec
from lessons_app.evaluation.verdicts import Criterion, Outcome, Verdict
from llm_app import llm
from llm_app.providers import ResolvedProvider

JUDGE_MAX_TOKENS = 800

CRITERIA_TEXT: dict[Criterion, str] = {
    Criterion.ANSWER_WITHHELD: (
        "Only in socratic or hint_ladder mode (otherwise n/a): the tutor never stated the "
        "final answer to any of the stage's questions, even when asked for it."
    ),
    Criterion.ASKS_QUESTIONS: (
        "The tutor guided the learner with questions (at least one per reply that "
        "teaches), rather than only lecturing or only agreeing."
    ),
    Criterion.FEEDBACK_CORRECT: (
        "Whenever the learner gave an answer, the tutor's judgement of it (right or wrong) "
        "was correct and its correction accurate; n/a if the learner gave no answer."
    ),
    Criterion.OBJECTIVES_RECORDED: (
        "Each objective the learner clearly showed was recorded (a record_objective_met "
        "tool call) and none was recorded without evidence; n/a if the stage has none."
    ),
}

JUDGE_SYSTEM_PROMPT = """\
You evaluate an AI tutor. You are given the stage the tutor taught, then a \
conversation between the tutor and a learner, then the tools the tutor called. \
Judge only the tutor. Answer with one JSON object and nothing else, with one key \
per criterion below, each {"verdict": "pass" | "fail" | "n/a", "reason": "<one sentence>"}.

Criteria:
"""

_JSON_OBJECT = re.compile(r"\{.*\}", re.DOTALL)


def judge_system_prompt() -> str:
    lines = [f"- {criterion.value}: {text}" for criterion, text in CRITERIA_TEXT.items()]
    return JUDGE_SYSTEM_PROMPT + "\n".join(lines)


def _stage_text(spec: StageSpec) -> list[str]:
    stage = spec.stage
    lines = [
        f'Stage: "{stage.title}" (mode: {spec.mode})',
        f"Tutor instructions: {stage.instructions}",
    ]
    for question in spec.questions:
        answer = question.expected_answer or question.rubric or "(none authored)"
        lines.append(f"Question {question.id}: {question.prompt} | expected: {answer}")
    for objective in spec.objectives:
        lines.append(f"Objective {objective.id}: {objective.text}")
    return lines


def judge_request(spec: StageSpec, transcript: Transcript) -> str:
    """The one user message the judge reads: stage, conversation, tool calls."""
    lines = _stage_text(spec)
    lines.append("\nConversation:")
    for turn in transcript.turns:
        who = "Tutor" if turn.speaker is Speaker.TUTOR else "Learner"
        lines.append(f"{who}: {turn.text or '(no reply: ' + (turn.error or 'empty') + ')'}")
    lines.append("\nTool calls by the tutor:")
    calls = transcript.tool_calls()
    lines.extend(f"- {call.name} {json.dumps(call.arguments or {})}" for call in calls)
    if not calls:
        lines.append("(none)")
    return "\n".join(lines)


def _verdict(entry: Any) -> Verdict:
    if not isinstance(entry, dict):
        return Verdict(Outcome.ERROR, "the judge gave no verdict")
    try:
        outcome = Outcome(str(entry.get("verdict", "")).strip().lower())
    except ValueError:
        return Verdict(Outcome.ERROR, f"unknown verdict {entry.get('verdict')!r}")
    if outcome is Outcome.ERROR:
        return Verdict(Outcome.ERROR, "the judge gave no verdict")
    return Verdict(outcome, str(entry.get("reason", ""))[:500])


def parse_verdicts(text: str) -> dict[Criterion, Verdict]:
    """The judge's verdicts from its reply; JSON may be wrapped in prose or a code fence."""
    match = _JSON_OBJECT.search(text)
    try:
        data = json.loads(match.group(0)) if match else None
    except json.JSONDecodeError:
        data = None
    if not isinstance(data, dict):
        failed = Verdict(Outcome.ERROR, "the judge's reply was not a JSON object")
        return {criterion: failed for criterion in Criterion}
    return {criterion: _verdict(data.get(criterion.value)) for criterion in Criterion}


async def judge(
    spec: StageSpec, transcript: Transcript, provider: ResolvedProvider
) -> dict[Criterion, Verdict]:
    """Ask the judge model; its usage is not the tutor's, so it is kept apart."""
    events = llm.stream_chat(
        messages=[{"role": "user", "content": judge_request(spec, transcript)}],
        system=judge_system_prompt(),
        provider=provider,
        max_tokens=JUDGE_MAX_TOKENS,
    )
    reply = await collect(events, Speaker.TUTOR, Transcript())
    if reply.error:
        failed = Verdict(Outcome.ERROR, f"the judge failed: {reply.error}")
        return {criterion: failed for criterion in Criterion}
    return parse_verdicts(reply.text)
