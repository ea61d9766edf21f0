"""One persona's conversation with the tutor on one chat stage, kept in memory only.

The tutor's side is :func:`lessons_app.prompts.send_message`, exactly as the chat
calls it (so the same system prompt, tools, history fitting and seam); the history
and what the learner has shown (objectives met, answers, hints) are kept here, in
memory, instead of in saved messages and records: a teaching tool call the chat
would record (:func:`lessons_app.teaching_tools.check_call`) updates that state, so
the next prompt says what the chat's would. The learner's side is the persona's
scripted messages, or a model asked to write the learner's next message from the
persona's description.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field, replace
from enum import StrEnum
from typing import Any

from lessons_app import prompts
from lessons_app.evaluation.personas import Persona
from lessons_app.evaluation.spec import StageSpec
from lessons_app.teaching import LearnerTeaching
from lessons_app.teaching_tools import CheckedCall, TeachingTool, check_call, is_teaching_tool
from llm_app import llm
from llm_app.events import TOOL_ARGUMENTS, TOOL_NAME, EventType
from llm_app.providers import ResolvedProvider

LEARNER_MAX_TOKENS = 300

LEARNER_SYSTEM_PROMPT = """\
You are role-playing a learner in a chat with an AI tutor, to test the tutor. \
The lesson is "{lesson}"; the stage is "{stage}".

Your persona: {description}

Write only the learner's next message: one to three sentences, in the first person, \
as a learner would type it. Never say that you are role-playing."""


class Speaker(StrEnum):
    LEARNER = "learner"
    TUTOR = "tutor"


@dataclass(frozen=True)
class ToolCall:
    name: str
    # The parsed arguments the seam reported; None for a call reported without any.
    arguments: dict[str, Any] | None = None
    # Whether the chat would act on it: an offered tool, with valid arguments and ids.
    valid: bool = True


@dataclass
class Turn:
    speaker: Speaker
    text: str
    tool_calls: list[ToolCall] = field(default_factory=list)
    # The seam's error code, if this reply ended in an error.
    error: str = ""


@dataclass
class Transcript:
    """A whole evaluation conversation, and what the tutor's model calls cost."""

    turns: list[Turn] = field(default_factory=list)
    # What the tutor has recorded of the persona so far, as the chat keeps it per learner.
    learner: LearnerTeaching = field(default_factory=LearnerTeaching)
    input_tokens: int = 0
    output_tokens: int = 0
    cost_usd: float = 0.0

    def tutor_turns(self) -> list[Turn]:
        return [turn for turn in self.turns if turn.speaker is Speaker.TUTOR]

    def tool_calls(self) -> list[ToolCall]:
        return [call for turn in self.tutor_turns() for call in turn.tool_calls]

    def history(self) -> list[dict[str, str]]:
        """The conversation as the chat's stored history: learner = user, tutor = assistant."""
        roles = {Speaker.LEARNER: prompts.USER_ROLE, Speaker.TUTOR: prompts.ASSISTANT_ROLE}
        return [{"role": roles[turn.speaker], "content": turn.text} for turn in self.turns]

    def as_learner_sees_it(self) -> list[dict[str, str]]:
        """The history with the roles swapped, for the model playing the learner."""
        roles = {Speaker.TUTOR: prompts.USER_ROLE, Speaker.LEARNER: prompts.ASSISTANT_ROLE}
        return [{"role": roles[turn.speaker], "content": turn.text} for turn in self.turns]

    def count(self, event: dict[str, Any]) -> None:
        self.input_tokens += event.get("input_tokens") or 0
        self.output_tokens += event.get("output_tokens") or 0
        self.cost_usd += event.get("cost_usd") or 0.0


async def collect(
    events: AsyncIterator[dict[str, Any]], speaker: Speaker, transcript: Transcript
) -> Turn:
    """Read one reply's events into a :class:`Turn`, counting its usage into ``transcript``."""
    turn = Turn(speaker=speaker, text="")
    parts: list[str] = []
    async for event in events:
        kind = event["type"]
        if kind == EventType.TEXT:
            parts.append(event["content"])
        elif kind == EventType.TOOL_USE:
            turn.tool_calls.append(ToolCall(event[TOOL_NAME], event.get(TOOL_ARGUMENTS)))
        elif kind == EventType.USAGE:
            transcript.count(event)
        elif kind == EventType.ERROR:
            turn.error = str(event["code"])
    turn.text = "".join(parts).strip()
    return turn


def offered_tools(spec: StageSpec, provider: ResolvedProvider) -> list[dict[str, Any]]:
    """The tools the chat offers the tutor on this stage (none to a provider without tools)."""
    return prompts.offered_tools(spec.teaching) if provider.uses_tools else []


def _remember(call: CheckedCall, spec: StageSpec, learner: LearnerTeaching) -> None:
    """What recording the call changes in the learner's state (as teaching_tools.record_call)."""
    arguments = call.arguments
    if call.tool == TeachingTool.RECORD_OBJECTIVE_MET:
        learner.met.add(arguments["objective_id"])
    elif call.tool == TeachingTool.RECORD_ANSWER:
        learner.answers[arguments["question_id"]] = arguments["correct"]
    else:
        question = spec.teaching.question(arguments["question_id"])
        if question is not None and learner.next_hint(question) is not None:
            learner.hints_shown[question.id] = learner.hints_shown.get(question.id, 0) + 1


def _checked(turn: Turn, spec: StageSpec, learner: LearnerTeaching, offered: list) -> Turn:
    names = {tool["function"]["name"] for tool in offered}
    calls = []
    for call in turn.tool_calls:
        if is_teaching_tool(call.name):
            checked = check_call(
                call.name, call.arguments or {}, spec.teaching, offered, reply_id=0
            )
            if checked is not None:
                _remember(checked, spec, learner)
            calls.append(replace(call, valid=checked is not None))
        else:
            calls.append(replace(call, valid=call.name in names))
    turn.tool_calls = calls
    return turn


async def tutor_turn(spec: StageSpec, transcript: Transcript, provider: ResolvedProvider) -> Turn:
    events = prompts.send_message(
        transcript.history(),
        spec.stage,
        current_content=spec.current_content,
        previous_content=spec.previous_content,
        provider=provider,
        teaching=spec.teaching,
        learner=transcript.learner,
    )
    turn = await collect(events, Speaker.TUTOR, transcript)
    return _checked(turn, spec, transcript.learner, offered_tools(spec, provider))


async def learner_turn(
    spec: StageSpec,
    persona: Persona,
    transcript: Transcript,
    provider: ResolvedProvider,
    index: int,
) -> Turn:
    if persona.scripted:
        return Turn(speaker=Speaker.LEARNER, text=persona.messages[index])
    system = LEARNER_SYSTEM_PROMPT.format(
        lesson=spec.stage.lesson.title, stage=spec.stage.title, description=persona.description
    )
    events = llm.stream_chat(
        messages=prompts.build_model_messages(transcript.as_learner_sees_it()),
        system=system,
        provider=provider,
        max_tokens=LEARNER_MAX_TOKENS,
    )
    # The learner's usage is not the tutor's: counted apart, and not reported.
    return await collect(events, Speaker.LEARNER, Transcript())


def _moves_on(turn: Turn) -> bool:
    return any(call.name == prompts.TRANSITION_TOOL_NAME for call in turn.tool_calls)


async def play(
    spec: StageSpec,
    persona: Persona,
    *,
    tutor: ResolvedProvider,
    learner: ResolvedProvider,
    progress: Callable[[str], object] = lambda text: None,
) -> Transcript:
    """The tutor opens, then the persona and the tutor take turns.

    It ends after the persona's last message has its reply, when the tutor moves the
    learner on, or when either side's model fails (the failed turn is kept).
    """
    transcript = Transcript()
    opening = spec.stage.opening_message.strip()
    if opening:
        transcript.turns.append(Turn(speaker=Speaker.TUTOR, text=opening))
    else:
        transcript.turns.append(await tutor_turn(spec, transcript, tutor))
    for index in range(persona.turns):
        if transcript.turns[-1].error or _moves_on(transcript.turns[-1]):
            break
        progress(f"turn {index + 1}/{persona.turns}")
        said = await learner_turn(spec, persona, transcript, learner, index)
        transcript.turns.append(said)
        if said.error or not said.text:
            break
        transcript.turns.append(await tutor_turn(spec, transcript, tutor))
    return transcript
