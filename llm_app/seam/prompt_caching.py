"""The system message, with the lesson content marked for Anthropic's prompt cache."""

from __future__ import annotations

from typing import Any, Protocol, runtime_checkable

# LiteLLM provider prefixes whose system blocks get Anthropic's ``cache_control``.
# Bedrock and Vertex AI also serve Claude and LiteLLM translates the marker for
# them, but nothing here tests those routes, so they get the plain prompt.
PROMPT_CACHING_PROVIDERS = frozenset({"anthropic"})
CACHE_CONTROL = {"type": "ephemeral"}


@runtime_checkable
class SplitSystemPrompt(Protocol):
    """A system prompt in two parts: short instructions, then long, stable lesson content.

    ``lessons_app.prompts.SystemPrompt`` is one; any object with these two
    string attributes will do, so the seam needs nothing from lessons_app.
    The content is what Anthropic's prompt cache is asked to keep.
    """

    instructions: str
    content: str


def join_system_prompt(system: str | SplitSystemPrompt) -> str:
    """The prompt as one string: instructions, a blank line, content (if any)."""
    if not isinstance(system, SplitSystemPrompt):
        return str(system)
    if not system.content:
        return system.instructions
    return f"{system.instructions}\n\n{system.content}"


def supports_prompt_caching(model: str) -> bool:
    return model.partition("/")[0] in PROMPT_CACHING_PROVIDERS


def system_message(system: str | SplitSystemPrompt, model: str) -> dict[str, Any]:
    """The system message for ``model``, with the lesson content marked for caching on Anthropic.

    Anthropic caches the request's prefix up to the marked block (tools, then
    the whole system prompt), so every turn of a stage after the first reads
    it from the cache. Other providers get the same text as one plain string:
    a content list with ``cache_control`` means something else to LiteLLM's
    Gemini route (explicit context caching) and nothing to most others.
    """
    if (
        not isinstance(system, SplitSystemPrompt)
        or not system.content
        or not supports_prompt_caching(model)
    ):
        return {"role": "system", "content": join_system_prompt(system)}
    parts: list[dict[str, Any]] = []
    if system.instructions:
        parts.append({"type": "text", "text": system.instructions})
    parts.append({"type": "text", "text": system.content, "cache_control": dict(CACHE_CONTROL)})
    return {"role": "system", "content": parts}
