"""The offline demo tutor: a LiteLLM custom provider that needs no key and no network.

It lets a fresh install have a working tutor before anyone enters an API key,
and it runs through ``acompletion`` like every real provider, so the whole
chat path is exercised. It is not clever: it echoes the lesson back, asks a
question, and calls ``transition_to_next`` when the learner says they are ready.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator
from typing import Any

import litellm
from litellm import CustomLLM
from litellm.types.utils import GenericStreamingChunk

from lessons_app.prompts import BEGIN_CONVERSATION, TRANSITION_TOOL_NAME

DEMO_PROVIDER_PREFIX = "tutor-demo"
DEFAULT_WORD_DELAY_SECONDS = 0.03


def is_demo_model(model: str) -> bool:
    """Whether ``model`` is served by the offline demo tutor rather than a real provider."""
    return model.startswith(DEMO_PROVIDER_PREFIX + "/")


_READY = re.compile(
    r"\b(ready|move on|moving on|next stage|next step|let'?s go|continue|i'?m done|got it)\b",
    re.IGNORECASE,
)
_LESSON_TITLE = re.compile(r'tutor for the lesson "(.+?)"')
_STAGE_TITLE = re.compile(r'Current stage: "(.+?)"')
_CONTENT_BLOCK = re.compile(
    r"^<(article_excerpt|video_transcript|previous_stage_content)>\n(.+?)\n</\1>$", re.S | re.M
)


# Markdown emphasis and code marks, dropped so quoted sentences read as plain text.
_EMPHASIS = re.compile(r"[*`]")


def _text(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):  # OpenAI content parts
        return " ".join(part.get("text", "") for part in content if isinstance(part, dict))
    return ""


def _sentences(block: str) -> list[str]:
    """The sentences of the lesson content that are long enough to quote back."""
    prose = " ".join(
        _EMPHASIS.sub("", line.strip("#*>- ")).strip()
        for line in block.splitlines()
        if line.strip() and not line.lstrip().startswith("#")
    )
    return [
        sentence if len(sentence) <= 160 else sentence[:157] + "..."
        for sentence in re.split(r"(?<=[.!?])\s+", prose)
        if len(sentence.split()) >= 6
    ]


def _words(text: str) -> set[str]:
    return {word for word in re.findall(r"[a-z]{4,}", text.lower())}


def _most_relevant(sentences: list[str], question: str) -> str:
    """The sentence sharing the most words with the learner's question, if any do."""
    asked = _words(question)
    best = max(sentences, key=lambda sentence: len(asked & _words(sentence)), default="")
    return best if asked & _words(best) else ""


def _offers_transition(tools: list[dict] | None) -> bool:
    return any(
        (tool.get("function") or {}).get("name") == TRANSITION_TOOL_NAME for tool in tools or []
    )


def compose_reply(messages: list[dict], tools: list[dict] | None) -> tuple[str, bool]:
    """The demo tutor's reply text and whether it calls ``transition_to_next``."""
    system = "\n".join(_text(m.get("content")) for m in messages if m.get("role") == "system")
    turns = [m for m in messages if m.get("role") in ("user", "assistant")]
    last_user = next((_text(m["content"]) for m in reversed(turns) if m["role"] == "user"), "")
    lesson = _LESSON_TITLE.search(system)
    stage = _STAGE_TITLE.search(system)
    content = _CONTENT_BLOCK.search(system)
    topic = stage.group(1) if stage else (lesson.group(1) if lesson else "this lesson")
    offers_transition = _offers_transition(tools)

    if offers_transition and _READY.search(last_user):
        return "Great work! You're ready for the next stage. 🎉", True
    sentences = _sentences(content.group(2)) if content else []
    if not last_user.strip() or last_user.strip() == BEGIN_CONVERSATION:
        opening = f"Hello! I'm the demo tutor for **{topic}**."
        if sentences:
            opening += f' The material begins: "{sentences[0]}"'
        return opening + " What stood out to you, or what felt unclear?", False
    relevant = _most_relevant(sentences, last_user)
    if last_user.rstrip().endswith("?") and relevant:
        return (
            f'Good question. This line from the material may help: "{relevant}" '
            "How would you answer your question in your own words now?",
            False,
        )
    quoted = " ".join(last_user.split())
    if len(quoted) > 80:
        quoted = quoted[:77] + "..."
    body = (
        f'You said: "{quoted}". That is a good start. Can you connect it to an example '
        f"from **{topic}**? Try to put it in your own words."
    )
    if offers_transition:
        body += " When you feel ready, just say so and we'll move on."
    return body, False


def _chunk(
    text: str = "", *, tool_use: dict | None = None, finish_reason: str = "", usage=None
) -> GenericStreamingChunk:
    return {
        "text": text,
        "tool_use": tool_use,
        "is_finished": bool(finish_reason),
        "finish_reason": finish_reason,
        "usage": usage,
        "index": 0,
    }


def _word_count(text: str) -> int:
    return len(text.split())


class DemoTutor(CustomLLM):
    """Streams :func:`compose_reply` word by word."""

    async def astreaming(  # type: ignore[override]
        self, model: str, messages: list, *args: Any, **kwargs: Any
    ) -> AsyncIterator[GenericStreamingChunk]:
        optional_params = kwargs.get("optional_params") or {}
        delay = float(optional_params.get("word_delay", DEFAULT_WORD_DELAY_SECONDS))
        reply, calls_transition = compose_reply(messages, optional_params.get("tools"))
        for word in re.findall(r"\S+\s*", reply):
            yield _chunk(word)
            if delay:
                await asyncio.sleep(delay)
        if calls_transition:
            yield _chunk(
                tool_use={
                    "id": "call_demo_transition",
                    "type": "function",
                    "function": {"name": TRANSITION_TOOL_NAME, "arguments": "{}"},
                    "index": 0,
                }
            )
        prompt_words = sum(_word_count(_text(m.get("content"))) for m in messages)
        yield _chunk(
            finish_reason="tool_calls" if calls_transition else "stop",
            usage={
                "prompt_tokens": prompt_words,
                "completion_tokens": _word_count(reply),
                "total_tokens": prompt_words + _word_count(reply),
            },
        )


_demo_tutor = DemoTutor()


def register_demo_provider() -> None:
    """Make ``tutor-demo/...`` models resolvable by LiteLLM; safe to call repeatedly."""
    if any(entry.get("provider") == DEMO_PROVIDER_PREFIX for entry in litellm.custom_provider_map):
        return
    litellm.custom_provider_map = [
        *litellm.custom_provider_map,
        {"provider": DEMO_PROVIDER_PREFIX, "custom_handler": _demo_tutor},
    ]
    litellm.utils.custom_llm_setup()
