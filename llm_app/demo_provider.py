"""The offline demo tutor: a LiteLLM custom provider that needs no key and no network.

It lets a fresh install have a working tutor before anyone enters an API key,
and it runs through ``acompletion`` like every real provider, so the whole
chat path is exercised. What it says comes from a *reply composer*, a function
of the messages and tools it is sent. The default here knows nothing about
lessons: it greets, then reflects the learner's words back. An app that knows
what its prompts mean plugs in its own with :func:`set_reply_composer`
(``lessons_app`` does, from ``LessonsAppConfig.ready()``).

LiteLLM learns the ``tutor-demo/`` prefix from :func:`register_demo_provider`,
which ``LlmAppConfig.ready()`` calls.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any

import litellm
from litellm import CustomLLM
from litellm.types.utils import GenericStreamingChunk

DEMO_PROVIDER_PREFIX = "tutor-demo"
DEFAULT_WORD_DELAY_SECONDS = 0.03
# Longest stretch of the learner's words a reply quotes back.
MAX_QUOTE_CHARS = 80


def is_demo_model(model: str) -> bool:
    """Whether ``model`` is served by the offline demo tutor rather than a real provider."""
    return model.startswith(DEMO_PROVIDER_PREFIX + "/")


@dataclass(frozen=True)
class DemoReply:
    """What the demo tutor says, and the tool it then calls, if any."""

    text: str
    tool_call: str | None = None


# (messages as LiteLLM hands them over, system message included; the tools offered, or None)
ReplyComposer = Callable[[list[dict], list[dict] | None], DemoReply]


def message_text(content: Any) -> str:
    """A message's text, whether its content is a string or a list of OpenAI content parts."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return " ".join(part.get("text", "") for part in content if isinstance(part, dict))
    return ""


def system_text(messages: list[dict]) -> str:
    """The system prompt as the provider got it (what a composer reads the context from)."""
    return "\n".join(message_text(m.get("content")) for m in messages if m.get("role") == "system")


def last_user_text(messages: list[dict]) -> str:
    return next(
        (message_text(m.get("content")) for m in reversed(messages) if m.get("role") == "user"),
        "",
    )


def offered_tool_names(tools: list[dict] | None) -> set[str]:
    return {(tool.get("function") or {}).get("name") for tool in tools or []} - {None}


def quote(text: str) -> str:
    """``text`` on one line, cut to :data:`MAX_QUOTE_CHARS`, for quoting back."""
    quoted = " ".join(text.split())
    if len(quoted) > MAX_QUOTE_CHARS:
        quoted = quoted[: MAX_QUOTE_CHARS - 3] + "..."
    return quoted


def echo_reply(messages: list[dict], tools: list[dict] | None) -> DemoReply:
    """The default composer: a greeting to open, then the learner's words reflected back."""
    said = last_user_text(messages)
    if not said.strip():
        return DemoReply("Hello! I'm the offline demo tutor. What would you like to talk about?")
    return DemoReply(
        f'You said: "{quote(said)}". That is a good start. Can you give an example, '
        "in your own words?"
    )


_composer: ReplyComposer = echo_reply


def set_reply_composer(composer: ReplyComposer) -> ReplyComposer:
    """Make ``composer`` write the demo tutor's replies; returns the one it replaces."""
    global _composer
    previous, _composer = _composer, composer
    return previous


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


def _tool_use(name: str) -> dict:
    return {
        "id": f"call_demo_{name}",
        "type": "function",
        "function": {"name": name, "arguments": "{}"},
        "index": 0,
    }


class DemoTutor(CustomLLM):
    """Streams the reply composer's text word by word, then its tool call, then the usage."""

    async def astreaming(  # type: ignore[override]
        self, model: str, messages: list, *args: Any, **kwargs: Any
    ) -> AsyncIterator[GenericStreamingChunk]:
        optional_params = kwargs.get("optional_params") or {}
        delay = float(optional_params.get("word_delay", DEFAULT_WORD_DELAY_SECONDS))
        reply = _composer(messages, optional_params.get("tools"))
        for word in re.findall(r"\S+\s*", reply.text):
            yield _chunk(word)
            if delay:
                await asyncio.sleep(delay)
        if reply.tool_call:
            yield _chunk(tool_use=_tool_use(reply.tool_call))
        prompt_words = sum(_word_count(message_text(m.get("content"))) for m in messages)
        yield _chunk(
            finish_reason="tool_calls" if reply.tool_call else "stop",
            usage={
                "prompt_tokens": prompt_words,
                "completion_tokens": _word_count(reply.text),
                "total_tokens": prompt_words + _word_count(reply.text),
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
