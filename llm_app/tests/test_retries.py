"""The seam's retry rule: which statuses are worth a second call, and the provider's Retry-After.

The rule is the OpenAI SDK's (LiteLLM's public ``should_retry`` for statuses; our own parser for
the headers, since LiteLLM's is private): retry 408, 409, 429 and 5xx; wait ``retry-after-ms``,
else ``retry-after`` in seconds, else ``retry-after`` as an HTTP date.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from types import SimpleNamespace

import httpx
import litellm
import pytest
from litellm.exceptions import MidStreamFallbackError

from llm_app.events import ErrorCode
from llm_app.seam.retries import is_retryable, parse_retry_after, retry_after_seconds

NOW = datetime(2025, 3, 1, 12, 0, 0, tzinfo=UTC)


def status_error(status: int) -> Exception:
    error = Exception(f"HTTP {status}")
    error.status_code = status  # type: ignore[attr-defined]
    return error


@pytest.mark.parametrize("status", [408, 409, 429, 500, 502, 503, 529])
def test_timeouts_conflicts_rate_limits_and_server_errors_are_retried(status: int) -> None:
    assert is_retryable(status_error(status), ErrorCode.UNAVAILABLE)


@pytest.mark.parametrize("status", [400, 404, 413, 422])
def test_other_client_errors_are_not_retried(status: int) -> None:
    assert not is_retryable(status_error(status), ErrorCode.BAD_REQUEST)


def test_credentials_are_never_retried_whatever_the_status() -> None:
    assert not is_retryable(status_error(503), ErrorCode.AUTH)


@pytest.mark.parametrize(
    ("code", "retried"),
    [
        (ErrorCode.TIMEOUT, True),
        (ErrorCode.UNAVAILABLE, True),
        (ErrorCode.RATE_LIMITED, True),
        (ErrorCode.EMPTY_RESPONSE, False),
        (ErrorCode.INTERNAL, False),
    ],
)
def test_a_failure_without_a_status_is_judged_by_its_code(code: ErrorCode, retried: bool) -> None:
    assert is_retryable(TimeoutError("no answer"), code) is retried


def parse(headers: dict[str, str]) -> float | None:
    return parse_retry_after(headers, now=NOW.timestamp)


def test_retry_after_in_seconds_fractions_included() -> None:
    assert parse({"retry-after": "2"}) == 2.0
    assert parse({"retry-after": "0.5"}) == 0.5


def test_retry_after_ms_is_milliseconds_and_wins_over_retry_after() -> None:
    assert parse({"retry-after-ms": "1500"}) == 1.5
    assert parse({"retry-after-ms": "250", "retry-after": "9"}) == 0.25


def test_an_unreadable_retry_after_ms_leaves_retry_after_to_decide() -> None:
    assert parse({"retry-after-ms": "soon", "retry-after": "3"}) == 3.0


def test_retry_after_as_an_http_date_counts_from_now() -> None:
    later = format_datetime(NOW + timedelta(seconds=30), usegmt=True)
    assert parse({"retry-after": later}) == 30.0


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"retry-after": "0"},
        {"retry-after": "-4"},
        {"retry-after": "whenever"},
        {"retry-after": format_datetime(NOW - timedelta(seconds=5), usegmt=True)},
        {"retry-after-ms": "0"},
    ],
)
def test_no_pause_when_none_is_asked_for_or_the_time_has_passed(headers: dict[str, str]) -> None:
    assert parse(headers) is None


def test_header_names_are_matched_without_regard_to_case() -> None:
    assert parse({"Retry-After": "4"}) == 4.0
    assert parse_retry_after(httpx.Headers({"Retry-After-Ms": "100"})) == 0.1


def rate_limited(retry_after: str) -> litellm.RateLimitError:
    """A 429 as LiteLLM raises it, with the provider's headers where LiteLLM puts them."""
    error = litellm.RateLimitError("slow down", "anthropic", "claude")
    error.litellm_response_headers = httpx.Headers({"retry-after": retry_after})
    return error


def test_the_pause_is_read_from_litellms_headers_or_the_response() -> None:
    assert retry_after_seconds(rate_limited("7")) == 7.0
    with_response = SimpleNamespace(response=SimpleNamespace(headers={"retry-after": "2"}))
    assert retry_after_seconds(with_response) == 2.0  # type: ignore[arg-type]
    assert retry_after_seconds(ValueError("no headers")) is None


def test_the_pause_is_read_through_litellms_mid_stream_envelope() -> None:
    wrapped = MidStreamFallbackError(
        message="cut",
        model="claude",
        llm_provider="anthropic",
        original_exception=rate_limited("3"),
    )
    assert retry_after_seconds(wrapped) == 3.0
