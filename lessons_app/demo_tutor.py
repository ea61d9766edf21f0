"""The offline demo tutor's lesson-aware replies, plugged into ``llm_app.demo_provider``.

The demo provider streams whatever its reply composer says; this composer reads
the lesson, the stage and the lesson content back out of the system prompt that
:mod:`lessons_app.prompts` built, through the same named templates and tags the
prompt builder uses, so rewording the prompt cannot quietly break the demo. It
is not clever: it quotes the material back, asks a question, and calls
``transition_to_next`` when the learner says they are ready.
"""

from __future__ import annotations

import re
from string import Formatter

from lessons_app.prompts import (
    BEGIN_CONVERSATION,
    STAGE_HEADER,
    TAGGED_BLOCK,
    TRANSITION_TOOL_NAME,
    TUTOR_ROLE_LINE,
)
from lessons_app.stage_kinds import CONTENT_TAGS
from llm_app.demo_provider import (
    DemoReply,
    last_user_text,
    offered_tool_names,
    quote,
    system_text,
)

# Longest sentence of the material quoted whole; longer ones are cut.
MAX_SENTENCE_CHARS = 160
# Shorter sentences (headings, fragments) are not worth quoting back.
MIN_SENTENCE_WORDS = 6


def template_pattern(template: str, **field_patterns: str) -> str:
    """A regex matching what ``template.format(...)`` produced, one named group per field.

    A field matches ``field_patterns[name]``, or any text; a field used twice
    must repeat what it matched the first time.
    """
    pattern, seen = "", set()
    for literal, name, _spec, _conversion in Formatter().parse(template):
        pattern += re.escape(literal)
        if name is None:
            continue
        if name in seen:
            pattern += f"(?P={name})"
        else:
            pattern += f"(?P<{name}>{field_patterns.get(name, '.+?')})"
            seen.add(name)
    return pattern


_LESSON_TITLE = re.compile(template_pattern(TUTOR_ROLE_LINE))
_STAGE_TITLE = re.compile(template_pattern(STAGE_HEADER))
_CONTENT_BLOCK = re.compile(
    f"^{template_pattern(TAGGED_BLOCK, tag='|'.join(map(re.escape, CONTENT_TAGS)))}$",
    re.S | re.M,
)
_READY = re.compile(
    r"\b(ready|move on|moving on|next stage|next step|let'?s go|continue|i'?m done|got it)\b",
    re.IGNORECASE,
)
# Markdown emphasis and code marks, dropped so quoted sentences read as plain text.
_EMPHASIS = re.compile(r"[*`]")


def _sentences(block: str) -> list[str]:
    """The sentences of the lesson content that are long enough to quote back."""
    prose = " ".join(
        _EMPHASIS.sub("", line.strip("#*>- ")).strip()
        for line in block.splitlines()
        if line.strip() and not line.lstrip().startswith("#")
    )
    return [
        sentence
        if len(sentence) <= MAX_SENTENCE_CHARS
        else sentence[: MAX_SENTENCE_CHARS - 3] + "..."
        for sentence in re.split(r"(?<=[.!?])\s+", prose)
        if len(sentence.split()) >= MIN_SENTENCE_WORDS
    ]


def _words(text: str) -> set[str]:
    return set(re.findall(r"[a-z]{4,}", text.lower()))


def _most_relevant(sentences: list[str], question: str) -> str:
    """The sentence sharing the most words with the learner's question, if any do."""
    asked = _words(question)
    best = max(sentences, key=lambda sentence: len(asked & _words(sentence)), default="")
    return best if asked & _words(best) else ""


def _topic(system: str) -> str:
    stage = _STAGE_TITLE.search(system)
    if stage:
        return stage.group("stage_title")
    lesson = _LESSON_TITLE.search(system)
    return lesson.group("lesson_title") if lesson else "this lesson"


def _material(system: str) -> list[str]:
    content = _CONTENT_BLOCK.search(system)
    return _sentences(content.group("text")) if content else []


def compose_reply(messages: list[dict], tools: list[dict] | None) -> DemoReply:
    """The demo tutor's reply to the conversation, and ``transition_to_next`` when it is time."""
    system = system_text(messages)
    said = last_user_text(messages)
    topic = _topic(system)
    offers_transition = TRANSITION_TOOL_NAME in offered_tool_names(tools)

    if offers_transition and _READY.search(said):
        return DemoReply("Great work! You're ready for the next stage. 🎉", TRANSITION_TOOL_NAME)
    sentences = _material(system)
    if not said.strip() or said.strip() == BEGIN_CONVERSATION:
        opening = f"Hello! I'm the demo tutor for **{topic}**."
        if sentences:
            opening += f' The material begins: "{sentences[0]}"'
        return DemoReply(opening + " What stood out to you, or what felt unclear?")
    relevant = _most_relevant(sentences, said)
    if said.rstrip().endswith("?") and relevant:
        return DemoReply(
            f'Good question. This line from the material may help: "{relevant}" '
            "How would you answer your question in your own words now?"
        )
    body = (
        f'You said: "{quote(said)}". That is a good start. Can you connect it to an example '
        f"from **{topic}**? Try to put it in your own words."
    )
    if offers_transition:
        body += " When you feel ready, just say so and we'll move on."
    return DemoReply(body)
