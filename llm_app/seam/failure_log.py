"""One warning per failed call, saying what the turn does next, with every key redacted."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from django.conf import settings

from llm_app.events import ErrorCode

if TYPE_CHECKING:
    from llm_app.providers import ResolvedProvider

# The seam's own logger name, which staff filter on and tests capture.
logger = logging.getLogger("llm_app.llm")

# Shortest API key the logs redact; see redacted.
MIN_REDACTED_KEY_LENGTH = 8
REDACTED = "[redacted]"


def redacted(text: str, providers: tuple[ResolvedProvider, ...]) -> str:
    """``text`` without the chain's keys or the provider keys in the environment.

    Real keys are long; a shorter "key" (a placeholder, a typo) is left alone,
    or it would blank out pieces of ordinary words in the log line.
    """
    keys = {provider.api_key for provider in providers}
    keys.update(settings.PROVIDER_ENVIRONMENT_KEYS)
    for key in sorted(keys, key=len, reverse=True):
        if len(key) >= MIN_REDACTED_KEY_LENGTH:
            text = text.replace(key, REDACTED)
    return text


def next_step(
    *,
    after_first_token: bool,
    pause: float | None,
    chain: tuple[ResolvedProvider, ...],
    position: int,
) -> str:
    """What the turn does after a failed call, for the log line."""
    if after_first_token:
        return "end turn (the reply had started)"
    if pause is not None:
        return f"retry in {pause:.2f}s"
    if position + 1 < len(chain):
        return f"fallback to {chain[position + 1].label}"
    return "give up"


def log_failure(
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
        redacted(str(exc), chain),
    )
