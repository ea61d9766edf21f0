"""Whether a failed call is worth repeating on the same provider, and after how long."""

from __future__ import annotations

import email.utils
import time
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING

import litellm

from llm_app.events import ErrorCode
from llm_app.seam.failures import unwrapped

if TYPE_CHECKING:
    from llm_app.providers import ResolvedProvider

# Longest pause between two calls of one provider, whatever the backoff or the
# provider's Retry-After says; a provider asking for a longer pause is left for
# the next one in the chain at once.
MAX_RETRY_PAUSE_SECONDS = 10.0
# Failures without an HTTP status that may pass if the same provider is asked again
# (events.RETRYABLE_ERRORS is what the learner may retry; an empty reply is only that).
_SAME_PROVIDER_RETRYABLE_CODES = frozenset(
    {ErrorCode.RATE_LIMITED, ErrorCode.UNAVAILABLE, ErrorCode.TIMEOUT}
)
# Failures the same provider will repeat however often it is asked: its credentials or
# set-up, a conversation too long for it, the model's own decision not to answer.
_NEVER_RETRIED_CODES = frozenset(
    {ErrorCode.AUTH, ErrorCode.CONFIGURATION, ErrorCode.CONTEXT_TOO_LONG, ErrorCode.REFUSED}
)
RETRY_AFTER_HEADER = "retry-after"
RETRY_AFTER_MS_HEADER = "retry-after-ms"


def is_retryable(exc: BaseException, code: ErrorCode) -> bool:
    """Whether asking the same provider again may help.

    An HTTP status decides through LiteLLM's public ``should_retry`` (408,
    409, 429 and 5xx, as the OpenAI SDK does); a failure without one (a
    timeout of ours, a dropped connection) by its code. Credentials, set-up,
    context size and refusals never get better by retrying.
    """
    if code in _NEVER_RETRIED_CODES:
        return False
    status = getattr(unwrapped(exc), "status_code", None)
    if isinstance(status, int) and status >= 400:
        return litellm.should_retry(status)
    return code in _SAME_PROVIDER_RETRYABLE_CODES


def retry_after_seconds(exc: BaseException) -> float | None:
    """The pause the provider asked for with the failed response, if it asked for one."""
    exc = unwrapped(exc)
    headers = getattr(exc, "litellm_response_headers", None)
    if headers is None:
        headers = getattr(getattr(exc, "response", None), "headers", None)
    if not isinstance(headers, Mapping):
        return None
    return parse_retry_after(headers)


def parse_retry_after(
    headers: Mapping[str, str], now: Callable[[], float] = time.time
) -> float | None:
    """Seconds the provider asks us to wait, by the OpenAI SDK's rule; ``None`` if none or past.

    ``retry-after-ms`` (milliseconds; not standard, but OpenAI and Azure send
    it) comes first, then ``retry-after`` as seconds (a fraction is accepted),
    then ``retry-after`` as an HTTP date, counted from ``now`` (Unix time).
    Header names are matched without regard to case. LiteLLM has its own
    parser, but only as a private helper, so the seam keeps this rule itself.
    """
    values = {str(name).lower(): value for name, value in headers.items()}
    milliseconds = _number(values.get(RETRY_AFTER_MS_HEADER))
    if milliseconds is not None:
        seconds: float | None = milliseconds / 1000
    else:
        value = values.get(RETRY_AFTER_HEADER)
        seconds = _number(value)
        if seconds is None and value is not None:
            seconds = _seconds_until(value, now())
    return seconds if seconds is not None and seconds > 0 else None


def _number(value: str | None) -> float | None:
    if value is None:
        return None
    try:
        return float(value)
    except ValueError:
        return None


def _seconds_until(http_date: str, now: float) -> float | None:
    parsed = email.utils.parsedate_tz(http_date)
    if parsed is None:
        return None
    return email.utils.mktime_tz(parsed) - now


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
