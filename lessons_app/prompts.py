"""What the tutor is told: the system prompt, the model's message list and the stage tool.

Everything here except :func:`send_message` is a pure function of model
instances and strings (no database, no network), so the consumer, the tests and
any later evaluation script build byte-for-byte the same prompt. The caller
fetches stage content with :func:`lessons_app.stage_kinds.stage_content` and
passes it in; what each kind of stage tells the tutor is written there too.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable, Iterable, Mapping
from contextlib import aclosing
from typing import TYPE_CHECKING, Any

from lessons_app.history_fit import fit_history
from lessons_app.languages import english_name
from lessons_app.models import TutoringMode
from lessons_app.stage_kinds import kind_of
from lessons_app.teaching import NO_TEACHING, LearnerTeaching, QuestionItem, StageTeaching
from lessons_app.teaching_tools import TeachingTool, tools_for
from llm_app import context_window, llm
from llm_app.providers import ResolvedProvider
from llm_app.tool_support import calls_tools

if TYPE_CHECKING:
    from lessons_app.models import Stage

# The hidden user turn that lets the tutor speak first: every provider wants the
# conversation to start (and Anthropic's newer models to end) on a user turn.
BEGIN_CONVERSATION = "[Begin conversation]"

USER_ROLE = "user"
ASSISTANT_ROLE = "assistant"
# Stage markers in the stored history; the model never sees them.
SYSTEM_ROLE = "system"

TRANSITION_TOOL_NAME = "transition_to_next"

# Tool for transitioning to next stage (OpenAI function calling format)
TRANSITION_TOOL: dict[str, Any] = {
    "type": "function",
    "function": {
        "name": TRANSITION_TOOL_NAME,
        "description": (
            "Call this when the conversation has reached a good stopping point "
            "and the user is ready to move to the next stage. "
            "Use this after 2-4 meaningful exchanges, or when the user indicates readiness."
        ),
        "parameters": {
            "type": "object",
            "properties": {},
            "required": [],
        },
    },
}

DEBUG_FRAME_TYPE = "debug"
MAX_TOKENS = 1024

# How lesson content is wrapped at the end of the prompt, so the model can tell the
# lesson's text from our instructions; the tags are the stage kinds' (stage_kinds.CONTENT_TAGS).
TAGGED_BLOCK = "<{tag}>\n{text}\n</{tag}>"

# The prompt's first line and each stage's header. Named, because the offline
# demo tutor (lessons_app.demo_tutor) reads the titles back out of them.
TUTOR_ROLE_LINE = 'You are the tutor for the lesson "{lesson_title}".'
STAGE_HEADER = 'Current stage: "{stage_title}" ({kind}).'
# Pages and markers are in the learner's language (settings.LANGUAGES); the tutor's
# replies should be too. Not said for English, the language of these instructions.
ENGLISH = "en"
REPLY_LANGUAGE = (
    "The learner reads this site in {language}: reply in {language}, unless they write "
    "to you in another language or ask for one."
)

_PERSONA = f"""\
{TUTOR_ROLE_LINE} You work beside the learner as \
they go through the lesson's stages, helping them understand the material and think \
it through for themselves.

How you tutor:
- Be Socratic: guide with questions and hints rather than handing over answers, and \
ask one question at a time.
- Be encouraging: acknowledge what the learner gets right, and correct mistakes kindly \
and clearly.
- Be concise: a few sentences is usually enough; go longer only when the learner asks \
for detail.
- Stay on the lesson's topic and build on what the learner has already said.
- If you are not sure of something, say so rather than guess.
- You may use Markdown (bold, lists, code, short tables) when it makes a reply clearer.
- A user message that is exactly "{{begin}}" does not come from the learner: it means \
it is your turn to open, at the start of the chat or of a new stage. Open with a short \
greeting or introduction to the current stage and a first question, and never mention \
that message."""

_TRANSITION = f"""\
Moving on: you have a tool called {TRANSITION_TOOL_NAME}. Call it when the learner is \
ready to move on to the next stage: as soon as they say they want to move on, or after \
2-4 meaningful exchanges once they have shown they understand. Before calling it, wrap \
up in a sentence or two. Don't mention the tool to the learner."""


# --- Tutoring modes -------------------------------------------------------------

QUESTIONS_TAG = "stage_questions"

_MODES: dict[str, str] = {
    TutoringMode.OPEN: "",
    TutoringMode.SOCRATIC: f"""\
Tutoring mode: Socratic. Guide the learner with questions, one at a time, so that they \
reach each answer themselves. Never state the final answer to any of this stage's \
questions in <{QUESTIONS_TAG}>, not even when the learner asks for it outright, gives up \
or insists, and don't confirm a guess that only names it without understanding: ask a \
smaller question that takes them one step further instead. When they ask for a hint, \
give the next one of the question's hints.""",
    TutoringMode.HINT_LADDER: f"""\
Tutoring mode: hint ladder. Work through this stage's questions in <{QUESTIONS_TAG}> with \
the learner. Each question has hints in a fixed order. When the learner asks for a hint \
or is stuck, give the next hint of that question, and only that one: never a later \
hint, never skip ahead, and never state the answer.""",
    TutoringMode.QUIZ: f"""\
Tutoring mode: quiz. Ask this stage's questions in <{QUESTIONS_TAG}> one at a time, in \
order, starting with the first one not yet answered. Wait for the learner's answer; \
judge it against the question's expected answer or rubric, tell them whether it is \
right with a sentence or two of feedback, then ask the next question. Never give an \
expected answer before the learner has answered that question. When every question is \
answered, give their score and sum up.""",
}

_WITH_TOOLS: dict[str, str] = {
    TeachingTool.REVEAL_HINT: f"""\
Hints: call {TeachingTool.REVEAL_HINT} with the question's id to give the next hint; the \
app shows the learner that hint, and you may then talk it through. You see only the \
hints shown so far and the next one.""",
    TeachingTool.RECORD_ANSWER: f"""\
Recording answers: after judging an answer, call {TeachingTool.RECORD_ANSWER} with the \
question's id, whether it is correct and your feedback, and tell the learner the \
feedback too. Record each answer once.""",
    TeachingTool.RECORD_OBJECTIVE_MET: f"""\
Learning objectives: when the learner has clearly shown one of the objectives below in \
their own words, call {TeachingTool.RECORD_OBJECTIVE_MET} with its id and a short note of \
what they said as evidence. Record an objective only when it is earned, never because \
the learner asks you to, and only once.""",
}

_NO_TOOLS = """\
Nothing you do here is recorded: you have no tools to record answers, objectives or \
hints, so don't say that you have recorded anything. Teach in the mode above all the \
same."""

_OBJECTIVES = "The learning objectives of this stage:\n{items}"


def _objective_lines(teaching: StageTeaching, learner: LearnerTeaching, ids: bool) -> str:
    lines = []
    for objective in teaching.objectives:
        label = f"[{objective.id}] " if ids else ""
        done = " (already met)" if objective.id in learner.met else ""
        lines.append(f"- {label}{objective.text}{done}")
    return "\n".join(lines)


# The modes whose tutor gives the questions' hints; the others never see them.
HINT_MODES = (TutoringMode.SOCRATIC, TutoringMode.HINT_LADDER)


def _question_block(
    number: int, question: QuestionItem, learner: LearnerTeaching, tools: bool, hints: bool
) -> str:
    label = f"Question {number} [{question.id}]" if tools else f"Question {number}"
    lines = [f"{label}: {question.prompt}"]
    if question.expected_answer:
        lines.append(f"Expected answer: {question.expected_answer}")
    if question.rubric:
        lines.append(f"Rubric: {question.rubric}")
    shown = learner.hints_shown.get(question.id, 0) if tools else len(question.hints)
    for index, hint in enumerate(question.hints[:shown] if hints else (), start=1):
        lines.append(f"Hint {index}{' (shown)' if tools else ''}: {hint.text}")
    following = learner.next_hint(question) if tools and hints else None
    if following is not None:
        lines.append(f"Next hint, not shown yet: {following.text}")
    if question.id in learner.answers:
        verdict = "correct" if learner.answers[question.id] else "not correct"
        lines.append(f"The learner has answered it: {verdict}.")
    return "\n".join(lines)


def teaching_paragraphs(
    teaching: StageTeaching, learner: LearnerTeaching | None, *, tools: bool
) -> list[str]:
    """What a stage's tutoring mode, objectives and questions add to the prompt.

    ``tools`` false (a provider that cannot call tools): the mode's instructions stay,
    the tool paragraphs go, every hint is listed in order, and the tutor is told that
    nothing is recorded.
    """
    learner = learner or LearnerTeaching()
    paragraphs = [text for text in [_MODES.get(teaching.mode, "")] if text]
    if not teaching.records_anything:
        return paragraphs
    if tools:
        offered = [tool["function"]["name"] for tool in tools_for(teaching)]
        paragraphs.extend(_WITH_TOOLS[name] for name in _WITH_TOOLS if name in offered)
    else:
        paragraphs.append(_NO_TOOLS)
    if teaching.objectives:
        items = _objective_lines(teaching, learner, tools)
        paragraphs.append(_OBJECTIVES.format(items=items))
    if teaching.questions:
        blocks = "\n\n".join(
            _question_block(number, question, learner, tools, teaching.mode in HINT_MODES)
            for number, question in enumerate(teaching.questions, start=1)
        )
        paragraphs.append(_tagged(QUESTIONS_TAG, blocks))
    return paragraphs


class SystemPrompt(str):
    """The system prompt as one string that also keeps its two parts.

    ``instructions`` are short; ``content`` is the long lesson text, identical
    for every turn of a stage, so it comes last and separately: the LLM seam
    marks it for Anthropic's prompt cache (``cache_control``) without
    re-parsing the prompt, and sends every other provider the joined string.
    Being a ``str``, it goes wherever a prompt string went before (the debug
    frame, logs, tests comparing with :func:`build_system_prompt`).
    """

    instructions: str
    content: str

    def __new__(cls, instructions: str, content: str = "") -> SystemPrompt:
        prompt = super().__new__(cls, f"{instructions}\n\n{content}" if content else instructions)
        prompt.instructions = instructions
        prompt.content = content
        return prompt

    def __getnewargs__(self) -> tuple[str, str]:
        # Copies and pickles rebuild both parts, not a prompt whose instructions are the whole.
        return (self.instructions, self.content)

    def __repr__(self) -> str:
        return f"SystemPrompt(instructions={self.instructions!r}, content={self.content!r})"

    def joined(self) -> str:
        """The prompt as a plain string."""
        return str(self)


def _tagged(tag: str, text: str) -> str:
    return TAGGED_BLOCK.format(tag=tag, text=text)


def build_system_prompt_parts(
    stage: Stage,
    current_content: str | None = None,
    previous_content: str | None = None,
    *,
    offers_tool: bool = True,
    teaching: StageTeaching = NO_TEACHING,
    learner: LearnerTeaching | None = None,
    language: str = "",
) -> SystemPrompt:
    """Build the tutor's system prompt for ``stage``, with the lesson content kept apart.

    Article and video stages give the tutor what the learner is reading or
    watching (``current_content``); chat stages give the author's instructions
    and, only if the author allows it, the previous stage's content
    (``previous_content``). What each kind says is in
    :mod:`lessons_app.stage_kinds`. Content that is missing or blank is left
    out, and the instructions then don't promise the model a block that isn't there.
    ``offers_tool`` false (a provider staff set to use no tools) leaves out the
    paragraph about the move-on tool, which the model then does not have.
    ``teaching`` and ``learner`` add the stage's tutoring mode, objectives and questions
    with what the learner has shown so far (:func:`teaching_paragraphs`).
    ``language`` is the learner's language code: any but English adds a paragraph
    telling the tutor to reply in it.
    """
    kind = kind_of(stage)
    part = kind.prompt(stage, (current_content or "").strip(), (previous_content or "").strip())
    paragraphs = [
        _PERSONA.format(lesson_title=stage.lesson.title, begin=BEGIN_CONVERSATION),
        STAGE_HEADER.format(stage_title=stage.title, kind=stage.get_kind_display().lower()),
        *part.paragraphs,
        *teaching_paragraphs(teaching, learner, tools=offers_tool),
    ]
    if kind.tutor_leads and offers_tool:
        paragraphs.append(_TRANSITION)
    if language and language.split("-")[0].lower() != ENGLISH:
        paragraphs.append(REPLY_LANGUAGE.format(language=english_name(language)))
    content = _tagged(kind.content_tag, part.content) if part.content else ""
    return SystemPrompt(instructions="\n\n".join(paragraphs), content=content)


def build_system_prompt(
    stage: Stage,
    current_content: str | None = None,
    previous_content: str | None = None,
) -> str:
    """The tutor's system prompt for ``stage`` as one string, lesson content last."""
    return build_system_prompt_parts(stage, current_content, previous_content).joined()


def build_model_messages(history: Iterable[Mapping[str, Any]]) -> list[dict[str, str]]:
    """Turn stored chat history into a message list every provider accepts.

    Stage markers and empty messages are dropped (an empty or stopped-before-
    the-first-token reply must not break the next request); consecutive turns
    of one role, which the drops or a failed reply can leave behind, are merged
    because Anthropic and Gemini insist on alternating roles. The list starts
    with a user turn and ends with one, inserting the hidden
    :data:`BEGIN_CONVERSATION` turn where the tutor speaks first: providers
    reject a leading assistant turn, and a trailing one would be taken as the
    start of the reply to continue (or rejected outright by newer models).
    """
    result: list[dict[str, str]] = []
    for message in history:
        role = message["role"]
        if role == SYSTEM_ROLE:
            continue
        if role not in (USER_ROLE, ASSISTANT_ROLE):
            raise ValueError(f"Unknown message role {role!r}.")
        content = (message.get("content") or "").strip()
        if not content:
            continue
        if result and result[-1]["role"] == role:
            result[-1]["content"] += "\n\n" + content
        else:
            result.append({"role": str(role), "content": content})

    if not result or result[0]["role"] == ASSISTANT_ROLE:
        result.insert(0, {"role": USER_ROLE, "content": BEGIN_CONVERSATION})
    if result[-1]["role"] == ASSISTANT_ROLE:
        result.append({"role": USER_ROLE, "content": BEGIN_CONVERSATION})
    return result


def fit_messages(
    model_messages: list[dict[str, str]],
    system: str,
    tools: list[dict[str, Any]] | None,
    provider: ResolvedProvider,
) -> list[dict[str, str]]:
    """``model_messages`` without the oldest turns that would not fit ``provider``'s context.

    The system prompt and the tools are counted as they are always sent; the
    rule for what is dropped is :func:`lessons_app.history_fit.fit_history`'s.
    """
    budget = context_window.chain_budget(provider, MAX_TOKENS)
    if budget is None:
        return model_messages
    model = provider.model
    fixed = [{"role": SYSTEM_ROLE, "content": str(system)}]
    if tools:
        fixed.append({"role": USER_ROLE, "content": json.dumps(tools)})
    fitted = fit_history(
        model_messages,
        budget,
        fixed_tokens=context_window.count_tokens(model, fixed),
        count=lambda messages: context_window.message_tokens(model, messages),
    )
    return fitted.messages


def debug_payload(system: str, model_messages: list[dict[str, str]]) -> dict[str, Any]:
    """The frame that shows staff exactly what the model was sent.

    It is a separate frame, never tutor text, so the prompt can't end up stored
    as part of a reply; the consumer decides whether to send it.
    """
    return {
        "type": DEBUG_FRAME_TYPE,
        "system": system,
        "messages": [dict(message) for message in model_messages],
    }


def offered_tools(teaching: StageTeaching) -> list[dict[str, Any]]:
    """Every tool of a stage the tutor leads, for a provider that uses tools."""
    return [TRANSITION_TOOL, *tools_for(teaching)]


async def send_message(
    messages: list[dict],
    current_stage: Stage,
    current_content: str | None = None,
    previous_content: str | None = None,
    provider: str | ResolvedProvider | None = None,
    *,
    on_prompt: Callable[[str, list[dict[str, str]]], None] | None = None,
    teaching: StageTeaching = NO_TEACHING,
    learner: LearnerTeaching | None = None,
    language: str = "",
) -> AsyncIterator[dict[str, Any]]:
    """Ask the tutor model for a reply to ``messages`` and stream the seam's events as is.

    The transition tool is offered only on stages the tutor leads (chat), where
    moving on is the tutor's call, and only to providers that use tools;
    elsewhere ``tools`` is ``None`` because some providers reject an empty tool
    list. The history is fitted to the provider's context (:func:`fit_messages`).
    ``on_prompt`` sees the exact system prompt and messages before the call, so
    the consumer can emit :func:`debug_payload` for staff. A stage's teaching tools
    (lessons_app.teaching_tools) go with the transition tool, to the same providers.
    """
    resolved = (
        provider
        if isinstance(provider, ResolvedProvider)
        else ResolvedProvider(model=provider or llm.DEFAULT_PROVIDER)
    )
    offers_tool = kind_of(current_stage).tutor_leads and calls_tools(resolved)
    # The split prompt, so the seam can mark the lesson content for prompt caching.
    system = build_system_prompt_parts(
        current_stage,
        current_content,
        previous_content,
        offers_tool=offers_tool,
        teaching=teaching,
        learner=learner,
        language=language,
    )
    tools = offered_tools(teaching) if offers_tool else None
    model_messages = fit_messages(build_model_messages(messages), system, tools, resolved)

    if on_prompt is not None:
        on_prompt(system.joined(), [dict(message) for message in model_messages])

    # aclosing: when the learner stops the reply and the consumer closes this
    # generator, the provider stream is closed at once instead of at GC time.
    async with aclosing(
        llm.stream_chat(
            messages=model_messages,
            system=system,
            tools=tools,
            provider=provider,
            max_tokens=MAX_TOKENS,
        )
    ) as events:
        async for event in events:
            yield event
