"""Whole replies for callers that don't stream to a browser.

``ask`` is for ``manage.py shell``; ``collect_reply`` also serves the
``llm_chat`` command and the admin's connection check. Both go through
:func:`llm_app.llm.stream_chat` like a chat turn.
"""

from __future__ import annotations

from collections.abc import Callable

from asgiref.sync import async_to_sync, sync_to_async

from llm_app import events, llm
from llm_app.providers import ResolvedProvider, resolve_provider
from llm_app.seam.prompt_caching import SplitSystemPrompt

DEFAULT_ASK_SYSTEM_PROMPT = "You are a helpful, concise assistant."


class LLMError(Exception):
    """A failed model call, carrying only what is safe to show."""

    def __init__(self, code: str, message: str):
        super().__init__(message)
        self.code = code
        self.message = message


async def collect_reply(
    messages: list[dict],
    system: str | SplitSystemPrompt,
    provider: ResolvedProvider | str | None = None,
    max_tokens: int = 1024,
    on_text: Callable[[str], object] | None = None,
) -> tuple[str, dict | None]:
    """Run :func:`stream_chat` to the end; return the text and the usage event.

    Raises :class:`LLMError` on an ``error`` event. ``on_text`` sees each chunk.
    """
    parts: list[str] = []
    usage: dict | None = None
    async for event in llm.stream_chat(messages, system, provider=provider, max_tokens=max_tokens):
        kind = event["type"]
        if kind == events.EventType.TEXT:
            parts.append(event["content"])
            if on_text is not None:
                on_text(event["content"])
        elif kind == events.EventType.USAGE:
            usage = event
        elif kind == events.EventType.ERROR:
            raise LLMError(event["code"], event["message"])
    return "".join(parts), usage


def ask(
    prompt: str,
    provider: str | None = None,
    system: str = DEFAULT_ASK_SYSTEM_PROMPT,
    max_tokens: int = 1024,
) -> str:
    """Ask a model from ``manage.py shell``: stream the reply to the terminal, return its text.

    ``provider`` is a provider name from the admin or a LiteLLM model string
    (anything else raises ``UnknownProviderError``, naming the admin's providers);
    ``None`` resolves like a chat turn (admin default, then ``LLM_PROVIDER``).
    """

    async def run() -> str:
        resolved = await sync_to_async(resolve_provider)(provider)
        text, _ = await collect_reply(
            [{"role": "user", "content": prompt}],
            system,
            provider=resolved,
            max_tokens=max_tokens,
            on_text=lambda chunk: print(chunk, end="", flush=True),
        )
        print()
        return text

    return async_to_sync(run)()
