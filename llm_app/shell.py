"""Whole replies for callers that don't stream to a browser.

``ask`` is for ``manage.py shell``; ``collect_reply`` also serves the
``llm_chat`` command and the admin's connection check. Both go through
:func:`llm_app.llm.stream_chat` like a chat turn.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

from asgiref.sync import async_to_sync, sync_to_async

from llm_app import events, llm
from llm_app.providers import ResolvedProvider, resolve_provider
from llm_app.seam.diagnosis import FailureReport
from llm_app.seam.prompt_caching import SplitSystemPrompt

DEFAULT_ASK_SYSTEM_PROMPT = "You are a helpful, concise assistant."
DEFAULT_ASK_MAX_TOKENS = 1024


def with_max_tokens(provider: ResolvedProvider, max_tokens: int) -> ResolvedProvider:
    """``provider`` and its fallbacks asked for at most ``max_tokens``, whatever the admin says.

    The seam lets an admin provider's ``max_tokens`` beat the caller's (a chat turn's
    default must not override staff); a caller that means its number replaces it here.
    """
    return replace(
        provider,
        max_tokens=max_tokens,
        fallbacks=tuple(
            replace(fallback, max_tokens=max_tokens) for fallback in provider.fallbacks
        ),
    )


class LLMError(Exception):
    """A failed model call: the learner's safe wording, and for staff the real cause.

    ``cause`` is the last failed call's :class:`FailureReport` (status, error type,
    the provider's message with keys redacted), for staff-facing callers such as
    ``llm_check`` and the admin's *Test connection*; ``None`` if the seam had none.
    """

    def __init__(self, code: str, message: str, cause: FailureReport | None = None):
        super().__init__(message)
        self.code = code
        self.message = message
        self.cause = cause

    @property
    def staff_detail(self) -> str:
        """What staff read: the real cause if known, else the safe message."""
        return self.cause.describe() if self.cause is not None else self.message


async def collect_reply(
    messages: list[dict],
    system: str | SplitSystemPrompt,
    provider: ResolvedProvider | str | None = None,
    max_tokens: int = 1024,
    on_text: Callable[[str], object] | None = None,
) -> tuple[str, dict | None]:
    """Run :func:`stream_chat` to the end; return the text and the usage event.

    Raises :class:`LLMError` on an ``error`` event, with the last failed call's
    real cause. ``on_text`` sees each chunk.
    """
    parts: list[str] = []
    usage: dict | None = None
    failures: list[FailureReport] = []
    async for event in llm.stream_chat(
        messages, system, provider=provider, max_tokens=max_tokens, on_failure=failures.append
    ):
        kind = event["type"]
        if kind == events.EventType.TEXT:
            parts.append(event["content"])
            if on_text is not None:
                on_text(event["content"])
        elif kind == events.EventType.USAGE:
            usage = event
        elif kind == events.EventType.ERROR:
            raise LLMError(event["code"], event["message"], failures[-1] if failures else None)
    return "".join(parts), usage


def ask(
    prompt: str,
    provider: str | None = None,
    system: str = DEFAULT_ASK_SYSTEM_PROMPT,
    max_tokens: int | None = None,
) -> str:
    """Ask a model from ``manage.py shell``: stream the reply to the terminal, return its text.

    ``provider`` is a provider name from the admin or a LiteLLM model string
    (anything else raises ``UnknownProviderError``, naming the admin's providers);
    ``None`` resolves like a chat turn (admin default, then ``LLM_PROVIDER``).
    ``max_tokens``, when given, beats the admin provider's own (and its fallbacks'):
    whoever types it in the shell means it. ``None``: the provider's, else 1024.
    """

    async def run() -> str:
        resolved = await sync_to_async(resolve_provider)(provider)
        if max_tokens is not None:
            resolved = with_max_tokens(resolved, max_tokens)
        text, _ = await collect_reply(
            [{"role": "user", "content": prompt}],
            system,
            provider=resolved,
            max_tokens=max_tokens or DEFAULT_ASK_MAX_TOKENS,
            on_text=lambda chunk: print(chunk, end="", flush=True),
        )
        print()
        return text

    return async_to_sync(run)()
