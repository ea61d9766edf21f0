"""Whether a failed call is worth repeating on the same provider, and after how long."""

from __future__ import annotations

from collections.abc import Mapping
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
# Failures that may pass if the same provider is asked again.
_RETRYABLE_CODES = frozenset({ErrorCode.RATE_LIMITED, ErrorCode.UNAVAILABLE, ErrorCode.TIMEOUT})


def is_retryable(exc: BaseException, code: ErrorCode) -> bool:
    """Whether asking the same provider again may help.

    An HTTP status decides through LiteLLM's own rule (408, 409, 429 and 5xx,
    as the OpenAI SDK does); a failure without one (a timeout of ours, a
    dropped connection) by its code. Credentials never get better by retrying.
    """
    if code == ErrorCode.AUTH:
        return False
    status = getattr(unwrapped(exc), "status_code", None)
    if isinstance(status, int) and status >= 400:
        return litellm._should_retry(status)
    return code in _RETRYABLE_CODES


def retry_after_seconds(exc: BaseException) -> float | None:
    """The provider's ``Retry-After``, parsed by LiteLLM, when it sent one."""
    exc = unwrapped(exc)
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
