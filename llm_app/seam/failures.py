"""What a failed call means: one of the seam's error codes, from LiteLLM's exception classes."""

from __future__ import annotations

import asyncio

import litellm
from litellm.exceptions import MidStreamFallbackError

from llm_app.events import ErrorCode


def unwrapped(exc: BaseException) -> BaseException:
    """The provider's own error inside LiteLLM's ``MidStreamFallbackError`` envelope.

    LiteLLM wraps failures raised while iterating a stream (including some
    providers' HTTP errors, which arrive only when the stream is first read).
    """
    original = getattr(exc, "original_exception", None)
    if isinstance(exc, MidStreamFallbackError) and isinstance(original, BaseException):
        return original
    return exc


# What the SDKs say when a provider has no key at all (the OpenAI SDK's words, which
# LiteLLM passes on as a 500 InternalServerError before any request was sent).
MISSING_KEY_PHRASES = ("missing credentials", "api_key client option must be set")
# How servers word a prompt longer than the model's context when LiteLLM does not map
# it to ContextWindowExceededError itself (an error inside a 200 stream, a proxy's 500).
CONTEXT_PHRASES = (
    "context_length_exceeded",
    "maximum context length",
    "context window",
    "context size",
    "exceed_context_size",
    "exceeds the context",
)


def is_missing_key(exc: BaseException) -> bool:
    """Whether the call failed because no API key was configured (nothing was sent)."""
    text = str(unwrapped(exc)).lower()
    return any(phrase in text for phrase in MISSING_KEY_PHRASES)


def _names_context_overflow(exc: BaseException) -> bool:
    text = str(exc).lower()
    return any(phrase in text for phrase in CONTEXT_PHRASES)


def classify_error(exc: BaseException) -> ErrorCode:
    """Map a LiteLLM (or transport) exception to one of our error codes.

    Some providers' 401/403 arrive as generic API errors, so the status code
    is checked before the class. A missing key and a wrong api_base (404: the
    path or the model does not exist there) are the staff's to fix, so they are
    ``configuration``, never retried. A generic error (one inside a 200 stream,
    a proxy's 500) is read by its payload for a context overflow.
    """
    exc = unwrapped(exc)
    if is_missing_key(exc):
        return ErrorCode.CONFIGURATION
    if getattr(exc, "status_code", None) in (401, 403):
        return ErrorCode.AUTH
    if isinstance(exc, litellm.AuthenticationError | litellm.PermissionDeniedError):
        return ErrorCode.AUTH
    if isinstance(exc, litellm.ContextWindowExceededError):
        return ErrorCode.CONTEXT_TOO_LONG
    if isinstance(exc, litellm.ContentPolicyViolationError):
        return ErrorCode.REFUSED
    if isinstance(exc, litellm.RateLimitError):
        return ErrorCode.RATE_LIMITED
    if isinstance(exc, litellm.Timeout | asyncio.TimeoutError | TimeoutError):
        return ErrorCode.TIMEOUT
    if _names_context_overflow(exc):
        return ErrorCode.CONTEXT_TOO_LONG
    if isinstance(exc, litellm.NotFoundError) or getattr(exc, "status_code", None) == 404:
        return ErrorCode.CONFIGURATION
    if isinstance(exc, litellm.BadRequestError):
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
    return _code_for_status(getattr(exc, "status_code", None))


def _code_for_status(status: object) -> ErrorCode:
    """The code for an exception LiteLLM did not classify, from its HTTP status if it has one."""
    if isinstance(status, int):
        if status == 429:
            return ErrorCode.RATE_LIMITED
        if status >= 500:
            return ErrorCode.UNAVAILABLE
        if status >= 400:
            return ErrorCode.BAD_REQUEST
    return ErrorCode.INTERNAL
