"""The real cause of a failed call, in words staff can act on, with every key redacted.

A learner reads the code's safe message (``llm_app.events.SAFE_ERROR_MESSAGES``); staff
checking a provider (``manage.py llm_check``, the admin's *Test connection*) need what
the provider actually said: the HTTP status, LiteLLM's error type and the provider's
own message. That text may quote request details, so it goes only to staff-facing
callers that ask for it (``stream_chat(on_failure=...)``), never into a frame or a page
a learner sees, and the chain's keys are redacted from it first.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import TYPE_CHECKING

from llm_app.events import ErrorCode
from llm_app.seam.failure_log import redacted
from llm_app.seam.failures import is_missing_key, unwrapped

if TYPE_CHECKING:
    from llm_app.providers import ResolvedProvider

NO_API_KEY = "no API key configured for this provider"
# LiteLLM prefixes the provider's words with "<Provider>Exception - ".
_PROVIDER_MESSAGE_SEPARATOR = "Exception - "
MAX_MESSAGE_LENGTH = 500


@dataclass(frozen=True)
class FailureReport:
    """One failed call as staff see it."""

    code: ErrorCode
    provider: str
    model: str
    error_type: str
    status: int | None
    message: str
    attempt: int

    def describe(self) -> str:
        """One line: status, error type, the provider's message."""
        status = f"HTTP {self.status} " if self.status else ""
        return f"{status}{self.error_type}: {self.message}"


def provider_message(exc: BaseException) -> str:
    """The provider's own words from a LiteLLM exception, without LiteLLM's prefixes."""
    text = str(getattr(exc, "message", None) or exc)
    if _PROVIDER_MESSAGE_SEPARATOR in text:
        text = text.split(_PROVIDER_MESSAGE_SEPARATOR, 1)[1]
    text = text.strip()
    try:
        body = json.loads(text.removeprefix("b'").removesuffix("'"))
    except ValueError:
        return text
    error = body.get("error") if isinstance(body, dict) else None
    if isinstance(error, dict) and isinstance(error.get("message"), str):
        return error["message"]
    return text


def diagnose(
    code: ErrorCode,
    exc: BaseException,
    provider: ResolvedProvider,
    *,
    attempt: int,
    chain: tuple[ResolvedProvider, ...],
) -> FailureReport:
    """What went wrong with one call, safe for staff (keys redacted, length bounded)."""
    cause = unwrapped(exc)
    status = getattr(cause, "status_code", None)
    if is_missing_key(cause):
        # The SDK's "500" is its own: nothing was sent, so no status and no provider words.
        status, message = None, NO_API_KEY
    else:
        message = redacted(provider_message(cause), chain)[:MAX_MESSAGE_LENGTH]
    return FailureReport(
        code=code,
        provider=provider.label,
        model=provider.model,
        error_type=type(cause).__name__,
        status=status if isinstance(status, int) else None,
        message=message or "(no message)",
        attempt=attempt,
    )
