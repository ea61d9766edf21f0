"""The one seam between Tutor and LiteLLM.

Everything that talks to a model goes through :func:`stream_chat`, which turns
LiteLLM's OpenAI-shaped stream into a handful of small events (see
``llm_app.events``) and turns every failure into one safe ``error`` event.
"""

from __future__ import annotations

import asyncio
import logging
import os
import time
from collections.abc import AsyncIterator
from typing import Any

import litellm
from litellm import acompletion
from litellm.exceptions import MidStreamFallbackError

from llm_app import events
from llm_app.demo_provider import register_demo_provider
from llm_app.events import ErrorCode
from llm_app.providers import ResolvedProvider

logger = logging.getLogger(__name__)

DEFAULT_PROVIDER = os.environ.get("LLM_PROVIDER", "anthropic/claude-sonnet-4-20250514")

# Keyword arguments the seam owns; ``extra_params`` from the admin cannot override them.
_RESERVED_PARAMS = frozenset({"model", "messages", "stream", "tools", "api_key", "api_base"})

register_demo_provider()


class LLMError(Exception):
    """A failed model call, carrying only what is safe to show."""

    def __init__(self, code: str, message: str):
        super().__init__(message)
        self.code = code
        self.message = message


def _as_resolved(provider: ResolvedProvider | str | None) -> ResolvedProvider:
    if isinstance(provider, ResolvedProvider):
        return provider
    return ResolvedProvider(model=provider or DEFAULT_PROVIDER)


def build_completion_kwargs(
    messages: list[dict],
    system: str,
    tools: list[dict] | None,
    provider: ResolvedProvider,
    max_tokens: int,
) -> dict[str, Any]:
    """The keyword arguments for ``acompletion``, valid for every provider.

    The system prompt goes first; ``system`` messages inside ``messages`` are
    stage markers for people and are dropped. ``tools`` is sent only when
    there are some: several providers reject ``null`` or an empty list.
    """
    llm_messages = [{"role": "system", "content": system}] + [
        message for message in messages if message.get("role") != "system"
    ]
    if provider.max_tokens:
        # Staff set this in the admin for this provider; it beats the caller's default.
        max_tokens = provider.max_tokens
    kwargs: dict[str, Any] = {
        key: value for key, value in provider.extra_params.items() if key not in _RESERVED_PARAMS
    }
    kwargs.update(
        model=provider.model,
        messages=llm_messages,
        max_tokens=max_tokens,
        stream=True,
        stream_options={"include_usage": True},
        # Retries and fallbacks are decided above the seam, per turn.
        max_retries=0,
    )
    if tools:
        kwargs["tools"] = tools
    if provider.api_base:
        kwargs["api_base"] = provider.api_base
    if provider.api_key:
        kwargs["api_key"] = provider.api_key
    if provider.temperature is not None:
        kwargs["temperature"] = provider.temperature
    if provider.timeout_seconds:
        kwargs["timeout"] = provider.timeout_seconds
    return kwargs


def classify_error(exc: BaseException) -> ErrorCode:
    """Map a LiteLLM (or transport) exception to one of our error codes.

    LiteLLM wraps failures raised while iterating a stream in
    ``MidStreamFallbackError`` (a ``ServiceUnavailableError``); the wrapped
    exception says what really happened. Some providers' 401/403 arrive as
    generic API errors, so the status code is checked before the class.
    """
    original = getattr(exc, "original_exception", None)
    if isinstance(exc, MidStreamFallbackError) and isinstance(original, BaseException):
        exc = original
    if getattr(exc, "status_code", None) in (401, 403):
        return ErrorCode.AUTH
    if isinstance(exc, litellm.AuthenticationError | litellm.PermissionDeniedError):
        return ErrorCode.AUTH
    if isinstance(exc, litellm.RateLimitError):
        return ErrorCode.RATE_LIMITED
    if isinstance(exc, litellm.Timeout | asyncio.TimeoutError | TimeoutError):
        return ErrorCode.TIMEOUT
    if isinstance(exc, litellm.BadRequestError | litellm.NotFoundError):
        return ErrorCode.BAD_REQUEST
    if isinstance(
        exc,
        litellm.ServiceUnavailableError
        | litellm.InternalServerError
        | litellm.APIConnectionError
        | litellm.APIError
        | ConnectionError,
    ):
        return ErrorCode.UNAVAILABLE
    status = getattr(exc, "status_code", None)
    if isinstance(status, int):
        if status in (401, 403):
            return ErrorCode.AUTH
        if status == 429:
            return ErrorCode.RATE_LIMITED
        if status >= 500:
            return ErrorCode.UNAVAILABLE
        if status >= 400:
            return ErrorCode.BAD_REQUEST
    return ErrorCode.INTERNAL


def _log_failure(code: ErrorCode, exc: BaseException, provider: ResolvedProvider) -> None:
    detail = str(exc)
    if provider.api_key:
        detail = detail.replace(provider.api_key, "[redacted]")
    logger.warning(
        "LLM call failed: provider=%s model=%s code=%s exception=%s detail=%.500s",
        provider.label,
        provider.model,
        code,
        type(exc).__name__,
        detail,
    )


def _text_of(value: Any) -> str:
    """``value`` if it is a non-empty string, else empty (also for test doubles)."""
    return value if isinstance(value, str) else ""


def _usage_numbers(chunk: Any) -> tuple[int | None, int | None]:
    usage = getattr(chunk, "usage", None)
    if not isinstance(usage, litellm.Usage):
        return None, None
    return usage.prompt_tokens, usage.completion_tokens


def _cost(model: str, input_tokens: int | None, output_tokens: int | None) -> float | None:
    """The cost in USD from LiteLLM's bundled price map; ``None`` when the model is unpriced."""
    if input_tokens is None or output_tokens is None:
        return None
    try:
        info = litellm.get_model_info(model)
    except Exception:  # noqa: BLE001 - LiteLLM raises plain Exception for unknown models
        return None
    if info.get("input_cost_per_token") is None:
        return None
    prompt_cost, completion_cost = litellm.cost_per_token(
        model=model, prompt_tokens=input_tokens, completion_tokens=output_tokens
    )
    return round(prompt_cost + completion_cost, 8)


async def _close(response: Any) -> None:
    """Close the provider stream so an abandoned reply stops upstream too."""
    for closer in ("aclose", "close"):
        method = getattr(response, closer, None)
        if method is None:
            continue
        try:
            result = method()
            if asyncio.iscoroutine(result):
                await result
        except Exception:
            logger.debug("Closing the provider stream failed", exc_info=True)
        return


async def stream_chat(
    messages: list[dict],
    system: str,
    tools: list[dict] | None = None,
    provider: ResolvedProvider | str | None = None,
    max_tokens: int = 1024,
) -> AsyncIterator[dict]:
    """Stream one model reply as events, ending with exactly one ``done`` or ``error``.

    ``provider`` is a LiteLLM model string, a :class:`ResolvedProvider`, or
    ``None`` for ``DEFAULT_PROVIDER``; this function never reads the database
    (resolve admin providers with ``llm_app.providers.resolve_provider``).
    Tool calls are reported once each, after their arguments are complete.
    """
    resolved = _as_resolved(provider)
    kwargs = build_completion_kwargs(messages, system, tools, resolved, max_tokens)
    started = time.monotonic()
    first_token_at: float | None = None
    streamed_text = False
    tool_names: dict[int, str] = {}
    finish_reason: str | None = None
    input_tokens: int | None = None
    output_tokens: int | None = None

    response = None
    try:
        response = await acompletion(**kwargs)
        async for chunk in response:
            chunk_input, chunk_output = _usage_numbers(chunk)
            if chunk_output is not None:
                input_tokens, output_tokens = chunk_input, chunk_output
            choices = getattr(chunk, "choices", None)
            if not choices:
                continue
            choice = choices[0]
            finish_reason = _text_of(getattr(choice, "finish_reason", None)) or finish_reason
            delta = getattr(choice, "delta", None)
            if delta is None:
                continue
            content = _text_of(delta.content)
            if content:
                if first_token_at is None:
                    first_token_at = time.monotonic()
                streamed_text = True
                yield events.text_event(content)
            for position, tool_call in enumerate(delta.tool_calls or []):
                index = tool_call.index if isinstance(tool_call.index, int) else position
                function = tool_call.function
                name = _text_of(function.name) if function is not None else ""
                if name:
                    if first_token_at is None:
                        first_token_at = time.monotonic()
                    tool_names.setdefault(index, name)
    except Exception as exc:  # noqa: BLE001 - every failure becomes one safe error event
        code = classify_error(exc)
        _log_failure(code, exc, resolved)
        yield events.error_event(code)
        return
    finally:
        if response is not None:
            await _close(response)

    if not streamed_text and not tool_names:
        logger.warning("LLM returned an empty reply: provider=%s", resolved.label)
        yield events.error_event(ErrorCode.EMPTY_RESPONSE)
        return
    for index in sorted(tool_names):
        yield events.tool_use_event(tool_names[index])
    finished = time.monotonic()
    yield events.usage_event(
        provider=resolved.label,
        model=resolved.model,
        input_tokens=input_tokens,
        output_tokens=output_tokens,
        cost_usd=_cost(resolved.model, input_tokens, output_tokens),
        finish_reason=finish_reason,
        time_to_first_token_ms=(
            round((first_token_at - started) * 1000) if first_token_at is not None else None
        ),
        total_time_ms=round((finished - started) * 1000),
    )
    yield events.done_event()


async def collect_reply(
    messages: list[dict],
    system: str,
    provider: ResolvedProvider | str | None = None,
    max_tokens: int = 1024,
    on_text=None,
) -> tuple[str, dict | None]:
    """Run :func:`stream_chat` to the end; return the text and the usage event.

    Raises :class:`LLMError` on an ``error`` event. ``on_text`` sees each chunk.
    """
    parts: list[str] = []
    usage: dict | None = None
    async for event in stream_chat(messages, system, provider=provider, max_tokens=max_tokens):
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
    system: str = "You are a helpful, concise assistant.",
    max_tokens: int = 1024,
) -> str:
    """Ask a model from ``manage.py shell``: stream the reply to the terminal, return its text.

    ``provider`` is a provider name from the admin or a LiteLLM model string;
    ``None`` resolves like a chat turn (admin default, then ``LLM_PROVIDER``).
    """
    from asgiref.sync import async_to_sync, sync_to_async

    from llm_app.providers import resolve_provider

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
