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
and it decides with LiteLLM's public API: the exception classes (unwrapping
``MidStreamFallbackError``), ``litellm.should_retry`` for status codes, the
usage chunk and ``cost_per_token``; ``Retry-After`` is read by the OpenAI
SDK's rule (LiteLLM's parser is private). docs/providers.md has the full
comparison.

This module keeps the public face and the call loop; what the loop decides
with lives in :mod:`llm_app.seam`, one job per module. ``acompletion`` is
looked up here at call time, so tests patch ``llm_app.llm.acompletion``.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import aclosing
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from litellm import acompletion

from llm_app import events
from llm_app.context_window import overflows
from llm_app.events import ErrorCode
from llm_app.providers import ResolvedProvider
from llm_app.seam import clock as seam_clock
from llm_app.seam.diagnosis import FailureReport, diagnose
from llm_app.seam.failure_log import log_failure, next_step
from llm_app.seam.failures import classify_error
from llm_app.seam.pricing import cache_tokens, cost_usd
from llm_app.seam.prompt_caching import SplitSystemPrompt
from llm_app.seam.request import build_completion_kwargs
from llm_app.seam.retries import is_retryable, retry_after_seconds, retry_pause
from llm_app.seam.stream import StreamedReply, close_stream
from llm_app.turn_record import TurnRecord

logger = logging.getLogger(__name__)

# The model when a caller names none: ``settings.LLM_PROVIDER``, read once at import.
DEFAULT_PROVIDER = settings.LLM_PROVIDER


def _as_resolved(provider: ResolvedProvider | str | None) -> ResolvedProvider:
    if isinstance(provider, ResolvedProvider):
        return provider
    return ResolvedProvider(model=provider or DEFAULT_PROVIDER)


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
    kwargs: dict[str, Any], provider: ResolvedProvider, reply: StreamedReply
) -> AsyncIterator[dict]:
    """One provider call: yield its text events as they arrive; raise :class:`_CallFailed`.

    An empty reply is a failure before the first token too. The deadlines bound
    only the awaits on the provider, never a ``yield``: the one ``asyncio.Timeout``
    of the call is armed before each await and disarmed before each event goes
    out, so the caller's own time between events is never cut short (and the
    cancellation never lands in the caller's code). One timeout rescheduled per
    chunk rather than a new one entered and left per chunk: this loop runs for
    every chunk of every turn, and that is CPU the process has little of under load.
    """
    loop = asyncio.get_running_loop()
    started = loop.time()
    total = _deadline(started, provider.timeout_seconds)
    first_token = _earliest(total, _deadline(started, provider.first_token_timeout_seconds))
    connect = _earliest(first_token, _deadline(started, provider.connect_timeout_seconds))
    response = None
    try:
        async with asyncio.timeout_at(connect) as limit:
            response = await acompletion(**kwargs)
            stream = aiter(response)
            while True:
                limit.reschedule(total if reply.started else first_token)
                try:
                    chunk = await anext(stream)
                except StopAsyncIteration:
                    break
                text = reply.take(chunk)
                if text:
                    limit.reschedule(None)
                    yield events.text_event(text)
    except Exception as exc:  # every failure becomes a safe error event or a retry
        raise _CallFailed(classify_error(exc), exc, after_first_token=reply.started) from exc
    finally:
        if response is not None:
            await close_stream(response)
    if not reply.answered:
        # Billed either way: the usage event after the error still counts it.
        if reply.refused:
            code, cause = ErrorCode.REFUSED, RuntimeError("the model declined to answer")
        elif overflows(provider, kwargs["messages"], kwargs["max_tokens"]):
            # llama-cpp-python answers a prompt longer than its context with an empty 200.
            code = ErrorCode.CONTEXT_TOO_LONG
            cause = RuntimeError("an empty reply to a prompt that fills the model's context")
        else:
            code, cause = ErrorCode.EMPTY_RESPONSE, RuntimeError("the provider sent an empty reply")
        raise _CallFailed(code, cause, after_first_token=False)


@dataclass
class _Turn:
    """What every call of one turn shares: the chain, one trace id, the start, the count."""

    chain: tuple[ResolvedProvider, ...]
    # The clock of the whole turn: its timings and its pauses between retries.
    clock: seam_clock.Clock
    started: float
    # One id for every call of the turn, so tracing callbacks (Langfuse) record
    # a turn as one trace, its retries and fallbacks as generations within it.
    trace_id: str = field(default_factory=lambda: uuid.uuid4().hex)
    attempts: int = 0


def _pause_before_retry(
    failed: _CallFailed, provider: ResolvedProvider, retry: int
) -> float | None:
    """Seconds to wait before asking ``provider`` again, or ``None`` to move on."""
    if (
        failed.after_first_token
        or retry >= provider.max_retries
        or not is_retryable(failed.cause, failed.code)
    ):
        return None
    return retry_pause(provider, retry, retry_after_seconds(failed.cause))


def _after_failure(
    failed: _CallFailed,
    turn: _Turn,
    position: int,
    retry: int,
    on_failure: Callable[[FailureReport], object] | None,
) -> float | None:
    """Log the failed call with what comes next; the pause before a retry, or ``None``."""
    provider = turn.chain[position]
    if on_failure is not None:
        on_failure(
            diagnose(failed.code, failed.cause, provider, attempt=turn.attempts, chain=turn.chain)
        )
    pause = _pause_before_retry(failed, provider, retry)
    step = next_step(
        after_first_token=failed.after_first_token,
        pause=pause,
        chain=turn.chain,
        position=position,
    )
    log_failure(
        failed.code,
        failed.cause,
        provider,
        attempt=turn.attempts,
        next_step=step,
        chain=turn.chain,
    )
    return pause


def _answer_end(provider: ResolvedProvider, reply: StreamedReply, turn: _Turn) -> Iterator[dict]:
    """The events after an answer's text: its tool calls, its usage, ``done``."""
    if turn.attempts > 1:
        logger.info(
            "LLM reply after %d attempts: provider=%s model=%s",
            turn.attempts,
            provider.label,
            provider.model,
        )
    for call in reply.completed_tool_calls():
        yield events.tool_use_event(call.name, call.parsed_arguments())
    yield _usage(provider, reply, turn)
    yield events.done_event()


async def stream_chat(
    messages: list[dict],
    system: str | SplitSystemPrompt,
    tools: list[dict] | None = None,
    provider: ResolvedProvider | str | None = None,
    max_tokens: int = 1024,
    *,
    on_failure: Callable[[FailureReport], object] | None = None,
) -> AsyncIterator[dict]:
    """Stream one model reply as events, ending with exactly one ``done`` or ``error``.

    ``provider`` is a LiteLLM model string, a :class:`ResolvedProvider`, or
    ``None`` for ``DEFAULT_PROVIDER``; this function never reads the database
    (resolve admin providers with ``llm_app.providers.resolve_provider``).
    ``system`` is a string, or a :class:`SplitSystemPrompt` whose content
    Anthropic is asked to cache. Tool calls are reported once each, after
    their arguments are complete (``llm_app.seam.tool_calls`` says when).

    A failure before the first token is retried on the same provider (when
    retryable, up to ``max_retries``) and then handed to the next provider in
    the chain, whatever its kind: a fallback with other credentials or
    limits may well succeed where the primary was refused. A failure after
    the first token ends the turn. The ``usage`` event names the provider
    that answered and counts every call made (``attempts``); a failed turn
    sends one before its ``error`` (the last provider asked, its billed tokens).
    ``on_failure`` sees each failed call's real cause, for staff only.
    """
    turn_clock = seam_clock.current
    turn = _Turn(_as_resolved(provider).chain, turn_clock, started=turn_clock.monotonic())
    failure = ErrorCode.INTERNAL
    last: tuple[ResolvedProvider, StreamedReply] | None = None
    for position, candidate in enumerate(turn.chain):
        for retry in range(candidate.max_retries + 1):
            turn.attempts += 1
            reply = StreamedReply(now=turn.clock.monotonic)
            last = (candidate, reply)
            kwargs = build_completion_kwargs(messages, system, tools, candidate, max_tokens)
            kwargs["litellm_trace_id"] = turn.trace_id
            try:
                # aclosing: a caller that stops early closes the provider stream at once.
                async with aclosing(_call(kwargs, candidate, reply)) as call:
                    async for event in call:
                        yield event
            except _CallFailed as failed:
                failure = failed.code
                pause = _after_failure(failed, turn, position, retry, on_failure)
                if failed.after_first_token:
                    yield _usage(candidate, reply, turn)
                    yield events.error_event(failed.code)
                    return
                if pause is None:
                    break
                await turn.clock.sleep(pause)
                continue
            for event in _answer_end(candidate, reply, turn):
                yield event
            return
    if last is not None:
        yield _usage(*last, turn)
    yield events.error_event(failure)


def _usage(provider: ResolvedProvider, reply: StreamedReply, turn: _Turn) -> dict[str, Any]:
    """The ``usage`` event, timed from the start of the turn (failed attempts included)."""
    started = turn.started
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
        total_time_ms=round((turn.clock.monotonic() - started) * 1000),
        attempts=turn.attempts,
        provider_id=provider.config_id,
    )
    return events.usage_event(record)
