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


def classify_error(exc: BaseException) -> ErrorCode:
    """Map a LiteLLM (or transport) exception to one of our error codes.

    Some providers' 401/403 arrive as generic API errors, so the status code
    is checked before the class.
    """
    exc = unwrapped(exc)
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
