"""The one seam between Tutor and LiteLLM.

Everything that talks to a model goes through :func:`stream_chat`, which turns
LiteLLM's OpenAI-shaped stream into a handful of small events (see
``llm_app.events``) and turns every failure into one safe ``error`` event.

Resilience lives here too, as one small loop over the provider's chain
(itself, then its fallbacks), each tried up to ``max_retries + 1`` times.
A failure before the first token is invisible to the learner, so the turn
retries or moves on; after the first token it ends with one ``error``, so a
reply is never spliced from two models. LiteLLM's ``Router`` gets the
mid-stream rule right too (with ``enable_mid_stream_fallback_continuation``
off, its default), but it cannot bound the wait for the first token and then
fall back, which is the case that matters most for a streaming tutor, and it
calls ``litellm.acompletion`` behind this seam's back. So the loop is ours,
and everything it decides with is LiteLLM's: the exception classes
(unwrapping ``MidStreamFallbackError``), ``litellm._should_retry`` for status
codes, the ``Retry-After`` parsing, the usage chunk and ``cost_per_token``.
docs/providers.md has the full comparison.
"""

from __future__ import annotations

import asyncio
import logging
import os
import time
import uuid
from collections.abc import AsyncIterator, Mapping
from contextlib import aclosing
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

import litellm
from django.conf import settings
from litellm import acompletion
from litellm.exceptions import MidStreamFallbackError

from llm_app import events
from llm_app.demo_provider import register_demo_provider
from llm_app.events import ErrorCode
from llm_app.providers import ResolvedProvider
from llm_app.turn_record import TurnRecord

logger = logging.getLogger(__name__)

DEFAULT_PROVIDER = os.environ.get("LLM_PROVIDER", "anthropic/claude-sonnet-4-20250514")

# Keyword arguments the seam owns; ``extra_params`` from the admin cannot override them.
# What the seam sets on every call itself: staff cannot set these in extra_params.
SEAM_OWNED_PARAMS = frozenset({"messages", "stream", "stream_options", "tools", "litellm_trace_id"})
# Dropped from extra_params even if a row was saved without validation: the seam's own
# arguments, and the provider's identity and credentials, which only their fields set.
_RESERVED_PARAMS = SEAM_OWNED_PARAMS | {"model", "api_key", "api_base"}

# LiteLLM provider prefixes whose system blocks get Anthropic's ``cache_control``.
# Bedrock and Vertex AI also serve Claude and LiteLLM translates the marker for
# them, but nothing here tests those routes, so they get the plain prompt.
PROMPT_CACHING_PROVIDERS = frozenset({"anthropic"})
CACHE_CONTROL = {"type": "ephemeral"}

# Shortest API key the logs redact; see _redacted.
MIN_REDACTED_KEY_LENGTH = 8

# Longest pause between two calls of one provider, whatever the backoff or the
# provider's Retry-After says; a provider asking for a longer pause is left for
# the next one in the chain at once.
MAX_RETRY_PAUSE_SECONDS = 10.0
# Failures that may pass if the same provider is asked again.
_RETRYABLE_CODES = frozenset({ErrorCode.RATE_LIMITED, ErrorCode.UNAVAILABLE, ErrorCode.TIMEOUT})
TOKENS_PER_MILLION = 1_000_000

register_demo_provider()


class LLMError(Exception):
    """A failed model call, carrying only what is safe to show."""

    def __init__(self, code: str, message: str):
        super().__init__(message)
        self.code = code
        self.message = message


@runtime_checkable
class SplitSystemPrompt(Protocol):
    """A system prompt in two parts: short instructions, then long, stable lesson content.

    ``lessons_app.prompts.SystemPrompt`` is one; any object with these two
    string attributes will do, so this module needs nothing from lessons_app.
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


def _as_resolved(provider: ResolvedProvider | str | None) -> ResolvedProvider:
    if isinstance(provider, ResolvedProvider):
        return provider
    return ResolvedProvider(model=provider or DEFAULT_PROVIDER)


def build_completion_kwargs(
    messages: list[dict],
    system: str | SplitSystemPrompt,
    tools: list[dict] | None,
    provider: ResolvedProvider,
    max_tokens: int,
) -> dict[str, Any]:
    """The keyword arguments for ``acompletion``, valid for every provider.

    The system prompt goes first; ``system`` messages inside ``messages`` are
    stage markers for people and are dropped. ``tools`` is sent only when
    there are some: several providers reject ``null`` or an empty list.
    """
    llm_messages = [system_message(system, provider.model)] + [
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
        # Retries and fallbacks are the seam's own loop; the SDKs must not add theirs.
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


def _unwrapped(exc: BaseException) -> BaseException:
    """The provider's own error inside LiteLLM's ``MidStreamFallbackError`` envelope.

    LiteLLM wraps failures raised while iterating a stream (including some
    providers' HTTP errors, which arrive only when the stream is first read).
    """
    original = getattr(exc, "original_exception", None)
    if isinstance(exc, MidStreamFallbackError) and isinstance(original, BaseException):
        return original
    return exc


def classify_error(exc: BaseException) -> ErrorCode:
    """Map a LiteLLM (or transport) exception to one of our error codes.

    Some providers' 401/403 arrive as generic API errors, so the status code
    is checked before the class.
    """
    exc = _unwrapped(exc)
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
        if status == 429:
            return ErrorCode.RATE_LIMITED
        if status >= 500:
            return ErrorCode.UNAVAILABLE
        if status >= 400:
            return ErrorCode.BAD_REQUEST
    return ErrorCode.INTERNAL


def is_retryable(exc: BaseException, code: ErrorCode) -> bool:
    """Whether asking the same provider again may help.

    An HTTP status decides through LiteLLM's own rule (408, 409, 429 and 5xx,
    as the OpenAI SDK does); a failure without one (a timeout of ours, a
    dropped connection) by its code. Credentials never get better by retrying.
    """
    if code == ErrorCode.AUTH:
        return False
    status = getattr(_unwrapped(exc), "status_code", None)
    if isinstance(status, int) and status >= 400:
        return litellm._should_retry(status)
    return code in _RETRYABLE_CODES


def _retry_after_seconds(exc: BaseException) -> float | None:
    """The provider's ``Retry-After``, parsed by LiteLLM, when it sent one."""
    exc = _unwrapped(exc)
    headers = getattr(exc, "litellm_response_headers", None)
    if headers is None:
        headers = getattr(getattr(exc, "response", None), "headers", None)
    if not isinstance(headers, Mapping):
        return None
    try:
        from litellm.utils import _get_retry_after_from_exception_header

        seconds = _get_retry_after_from_exception_header(headers)
    except Exception:  # noqa: BLE001 - a private helper: never let it break a turn
        return None
    return float(seconds) if isinstance(seconds, int | float) and seconds > 0 else None


def retry_pause(provider: ResolvedProvider, retry: int, retry_after: float | None) -> float | None:
    """Seconds to wait before retry number ``retry`` (0-based), or ``None`` to stop retrying.

    Exponential backoff from ``provider.retry_backoff_seconds``, never shorter
    than the provider's ``Retry-After``; a provider asking for more than
    :data:`MAX_RETRY_PAUSE_SECONDS` is not retried, so the fallback answers.
    """
    pause = provider.retry_backoff_seconds * 2**retry
    if retry_after is not None:
        if retry_after > MAX_RETRY_PAUSE_SECONDS:
            return None
        pause = max(pause, retry_after)
    return min(pause, MAX_RETRY_PAUSE_SECONDS)


def _redacted(text: str, providers: tuple[ResolvedProvider, ...]) -> str:
    """``text`` without the chain's keys or the provider keys in the environment.

    Real keys are long; a shorter "key" (a placeholder, a typo) is left alone,
    or it would blank out pieces of ordinary words in the log line.
    """
    keys = {provider.api_key for provider in providers}
    keys.update(settings.PROVIDER_ENVIRONMENT_KEYS)
    for key in sorted(keys, key=len, reverse=True):
        if len(key) >= MIN_REDACTED_KEY_LENGTH:
            text = text.replace(key, "[redacted]")
    return text


def _log_failure(
    code: ErrorCode,
    exc: BaseException,
    provider: ResolvedProvider,
    *,
    attempt: int,
    next_step: str,
    chain: tuple[ResolvedProvider, ...],
) -> None:
    logger.warning(
        "LLM call failed: provider=%s model=%s attempt=%d code=%s exception=%s next=%s "
        "detail=%.500s",
        provider.label,
        provider.model,
        attempt,
        code,
        type(exc).__name__,
        next_step,
        _redacted(str(exc), chain),
    )


def _text_of(value: Any) -> str:
    """``value`` if it is a non-empty string, else empty (also for test doubles)."""
    return value if isinstance(value, str) else ""


def _int_or_none(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def cache_tokens(usage: litellm.Usage | None) -> tuple[int | None, int | None]:
    """Prompt-cache reads and writes from LiteLLM's usage; ``None`` when not reported.

    LiteLLM puts reads in ``prompt_tokens_details.cached_tokens`` for every
    provider, and Anthropic's writes in ``cache_creation_input_tokens``.
    Both are already counted in ``prompt_tokens``.
    """
    if usage is None:
        return None, None
    details = getattr(usage, "prompt_tokens_details", None)
    read = _int_or_none(getattr(details, "cached_tokens", None))
    if read is None:
        read = _int_or_none(getattr(usage, "cache_read_input_tokens", None))
    write = _int_or_none(getattr(usage, "cache_creation_input_tokens", None))
    if write is None:
        write = _int_or_none(getattr(details, "cache_creation_tokens", None))
    return read, write


def custom_cost_per_token(provider: ResolvedProvider) -> dict[str, float] | None:
    """The admin's prices in LiteLLM's ``CostPerToken`` shape, when both are set."""
    per_input = provider.input_cost_per_million_tokens
    per_output = provider.output_cost_per_million_tokens
    if per_input is None or per_output is None:
        return None
    return {
        "input_cost_per_token": per_input / TOKENS_PER_MILLION,
        "output_cost_per_token": per_output / TOKENS_PER_MILLION,
    }


def priced_by_litellm(model: str) -> bool:
    """Whether LiteLLM's bundled map really prices ``model``.

    For a model missing from the map LiteLLM may still answer from the
    provider's metadata, with prices of zero; that is "unknown", not "free".
    """
    try:
        info = litellm.get_model_info(model)
    except Exception:  # noqa: BLE001 - LiteLLM raises plain Exception for unknown models
        return False
    return bool(info.get("input_cost_per_token") or info.get("output_cost_per_token"))


def is_priced(provider: ResolvedProvider) -> bool:
    """Whether replies from ``provider`` get a cost: the admin's prices or LiteLLM's map."""
    return custom_cost_per_token(provider) is not None or priced_by_litellm(provider.model)


def cost_usd(provider: ResolvedProvider, usage: litellm.Usage | None) -> float | None:
    """The reply's cost in USD; ``None`` (never 0) when nothing prices the model.

    Precedence: the provider's own prices from the admin (both must be set),
    else LiteLLM's bundled price map. Map prices apply Anthropic's cache-read
    and cache-write rates from the usage object; custom prices charge every
    input token, cached or not, at the one input price.
    """
    if usage is None or usage.prompt_tokens is None or usage.completion_tokens is None:
        return None
    custom = custom_cost_per_token(provider)
    try:
        if custom is not None:
            # Token counts only: with an Anthropic usage object LiteLLM would
            # add the cache tokens to prompt_tokens a second time.
            prompt_cost, completion_cost = litellm.cost_per_token(
                model=provider.model,
                prompt_tokens=usage.prompt_tokens,
                completion_tokens=usage.completion_tokens,
                custom_cost_per_token=custom,
            )
        elif priced_by_litellm(provider.model):
            prompt_cost, completion_cost = litellm.cost_per_token(
                model=provider.model,
                prompt_tokens=usage.prompt_tokens,
                completion_tokens=usage.completion_tokens,
                usage_object=usage,
            )
        else:
            return None
    except Exception:  # a price lookup must never fail a reply
        logger.debug("Pricing %s failed", provider.model, exc_info=True)
        return None
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


@dataclass
class _Reply:
    """What one call has received so far."""

    first_token_at: float | None = None
    streamed_text: bool = False
    tool_names: dict[int, str] = field(default_factory=dict)
    finish_reason: str | None = None
    usage: litellm.Usage | None = None

    @property
    def started(self) -> bool:
        return self.first_token_at is not None

    def mark_token(self) -> None:
        if self.first_token_at is None:
            self.first_token_at = time.monotonic()

    def take(self, chunk: Any) -> str:
        """Record one stream chunk; return its text, if any."""
        usage = getattr(chunk, "usage", None)
        if isinstance(usage, litellm.Usage) and usage.completion_tokens is not None:
            self.usage = usage
        choices = getattr(chunk, "choices", None)
        if not choices:
            return ""
        choice = choices[0]
        self.finish_reason = _text_of(getattr(choice, "finish_reason", None)) or self.finish_reason
        delta = getattr(choice, "delta", None)
        if delta is None:
            return ""
        content = _text_of(delta.content)
        if content:
            self.mark_token()
            self.streamed_text = True
        for position, tool_call in enumerate(delta.tool_calls or []):
            index = tool_call.index if isinstance(tool_call.index, int) else position
            function = tool_call.function
            name = _text_of(function.name) if function is not None else ""
            if name:
                self.mark_token()
                self.tool_names.setdefault(index, name)
        return content


class _CallFailed(Exception):
    """One provider call failed; ``after_first_token`` says whether the turn is committed."""

    def __init__(self, code: ErrorCode, cause: BaseException, *, after_first_token: bool):
        super().__init__(code.value)
        self.code = code
        self.cause = cause
        self.after_first_token = after_first_token


def _deadline(start: float, seconds: float | None) -> float | None:
    return start + seconds if seconds else None


def _earliest(*deadlines: float | None) -> float | None:
    known = [deadline for deadline in deadlines if deadline is not None]
    return min(known) if known else None


async def _call(
    kwargs: dict[str, Any], provider: ResolvedProvider, reply: _Reply
) -> AsyncIterator[dict]:
    """One provider call: yield its text events as they arrive; raise :class:`_CallFailed`.

    An empty reply is a failure before the first token too. The deadlines use
    ``asyncio.timeout_at`` around each single await, never around a
    ``yield``, so the caller's own time between events is never cut short.
    """
    loop = asyncio.get_running_loop()
    started = loop.time()
    total = _deadline(started, provider.timeout_seconds)
    first_token = _earliest(total, _deadline(started, provider.first_token_timeout_seconds))
    connect = _earliest(first_token, _deadline(started, provider.connect_timeout_seconds))
    response = None
    try:
        async with asyncio.timeout_at(connect):
            response = await acompletion(**kwargs)
        stream = aiter(response)
        while True:
            try:
                async with asyncio.timeout_at(total if reply.started else first_token):
                    chunk = await anext(stream)
            except StopAsyncIteration:
                break
            text = reply.take(chunk)
            if text:
                yield events.text_event(text)
    except Exception as exc:  # every failure becomes a safe error event or a retry
        raise _CallFailed(classify_error(exc), exc, after_first_token=reply.started) from exc
    finally:
        if response is not None:
            await _close(response)
    if not reply.streamed_text and not reply.tool_names:
        raise _CallFailed(
            ErrorCode.EMPTY_RESPONSE,
            RuntimeError("the provider sent an empty reply"),
            after_first_token=False,
        )


async def stream_chat(
    messages: list[dict],
    system: str | SplitSystemPrompt,
    tools: list[dict] | None = None,
    provider: ResolvedProvider | str | None = None,
    max_tokens: int = 1024,
) -> AsyncIterator[dict]:
    """Stream one model reply as events, ending with exactly one ``done`` or ``error``.

    ``provider`` is a LiteLLM model string, a :class:`ResolvedProvider`, or
    ``None`` for ``DEFAULT_PROVIDER``; this function never reads the database
    (resolve admin providers with ``llm_app.providers.resolve_provider``).
    ``system`` is a string, or a :class:`SplitSystemPrompt` whose content
    Anthropic is asked to cache. Tool calls are reported once each, after
    their arguments are complete.

    A failure before the first token is retried on the same provider (when
    retryable, up to ``max_retries``) and then handed to the next provider in
    the chain, whatever its kind: a fallback with other credentials or
    limits may well succeed where the primary was refused. A failure after
    the first token ends the turn. The ``usage`` event names the provider
    that answered and counts every call made (``attempts``).
    """
    resolved = _as_resolved(provider)
    chain = resolved.chain
    turn_id = uuid.uuid4().hex
    started = time.monotonic()
    attempts = 0
    failure = ErrorCode.INTERNAL
    for position, candidate in enumerate(chain):
        for retry in range(candidate.max_retries + 1):
            attempts += 1
            reply = _Reply()
            kwargs = build_completion_kwargs(messages, system, tools, candidate, max_tokens)
            # One id for every call of the turn, so tracing callbacks (Langfuse) record
            # a turn as one trace, its retries and fallbacks as generations within it.
            kwargs["litellm_trace_id"] = turn_id
            try:
                # aclosing: a caller that stops early closes the provider stream at once.
                async with aclosing(_call(kwargs, candidate, reply)) as call:
                    async for event in call:
                        yield event
            except _CallFailed as failed:
                failure = failed.code
                pause = None
                if (
                    not failed.after_first_token
                    and retry < candidate.max_retries
                    and is_retryable(failed.cause, failed.code)
                ):
                    pause = retry_pause(candidate, retry, _retry_after_seconds(failed.cause))
                _log_failure(
                    failed.code,
                    failed.cause,
                    candidate,
                    attempt=attempts,
                    next_step=_next_step(failed, pause, chain, position),
                    chain=chain,
                )
                if failed.after_first_token:
                    yield events.error_event(failed.code)
                    return
                if pause is None:
                    break
                await asyncio.sleep(pause)
                continue
            if attempts > 1:
                logger.info(
                    "LLM reply after %d attempts: provider=%s model=%s",
                    attempts,
                    candidate.label,
                    candidate.model,
                )
            for index in sorted(reply.tool_names):
                yield events.tool_use_event(reply.tool_names[index])
            yield _usage(candidate, reply, attempts, started)
            yield events.done_event()
            return
    yield events.error_event(failure)


def _next_step(
    failed: _CallFailed,
    pause: float | None,
    chain: tuple[ResolvedProvider, ...],
    position: int,
) -> str:
    """What the turn does after a failed call, for the log line."""
    if failed.after_first_token:
        return "end turn (the reply had started)"
    if pause is not None:
        return f"retry in {pause:.2f}s"
    if position + 1 < len(chain):
        return f"fallback to {chain[position + 1].label}"
    return "give up"


def _usage(
    provider: ResolvedProvider, reply: _Reply, attempts: int, started: float
) -> dict[str, Any]:
    """The ``usage`` event, timed from the start of the turn (failed attempts included)."""
    usage = reply.usage
    cache_read, cache_write = cache_tokens(usage)
    record = TurnRecord(
        provider=provider.label,
        model=provider.model,
        input_tokens=usage.prompt_tokens if usage is not None else None,
        output_tokens=usage.completion_tokens if usage is not None else None,
        cache_read_tokens=cache_read,
        cache_write_tokens=cache_write,
        cost_usd=cost_usd(provider, usage),
        finish_reason=reply.finish_reason,
        time_to_first_token_ms=(
            round((reply.first_token_at - started) * 1000)
            if reply.first_token_at is not None
            else None
        ),
        total_time_ms=round((time.monotonic() - started) * 1000),
        attempts=attempts,
    )
    return events.usage_event(record)


async def collect_reply(
    messages: list[dict],
    system: str | SplitSystemPrompt,
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

    ``provider`` is a provider name from the admin or a LiteLLM model string
    (anything else raises ``UnknownProviderError``, naming the admin's providers);
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
