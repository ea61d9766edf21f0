"""Moderation of a learner's text, through LiteLLM's moderation API (``litellm.amoderation``).

LiteLLM 1.110 sends moderation requests to the OpenAI moderations endpoint
(``POST {api_base}/moderations``) only, so a provider "has" moderation when its
model routes to LiteLLM's ``openai`` provider (the OpenAI API, or a server that
speaks its format at the provider's ``api_base``). For the others, and when the
endpoint fails, :func:`moderate` returns ``None``: moderation is advisory, so a
failure is logged and never stops a turn.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import litellm
import openai
from litellm import amoderation

from llm_app.providers import ResolvedProvider

logger = logging.getLogger(__name__)

# OpenAI's current moderation model (text and images, free of charge).
MODERATION_MODEL = "omni-moderation-latest"
_MODERATED_PROVIDERS = frozenset({"openai"})


@dataclass(frozen=True)
class ModerationResult:
    flagged: bool
    # The categories the endpoint flagged, e.g. ("harassment", "violence").
    categories: tuple[str, ...] = ()


def has_moderation(provider: ResolvedProvider) -> bool:
    """Whether LiteLLM can moderate with this provider's endpoint and credentials."""
    try:
        _, kind, _, _ = litellm.get_llm_provider(model=provider.model)
    except litellm.exceptions.BadRequestError:  # an unknown route has no moderation
        return False
    return kind in _MODERATED_PROVIDERS


def _result(response) -> ModerationResult:
    flagged, categories = False, set()
    for result in response.results or []:
        flagged = flagged or bool(result.flagged)
        categories.update(name for name, on in (result.categories or {}).items() if on)
    return ModerationResult(flagged=flagged, categories=tuple(sorted(categories)))


async def moderate(text: str, provider: ResolvedProvider) -> ModerationResult | None:
    """The moderation endpoint's verdict on ``text``; ``None`` if there is none to ask."""
    if not text.strip() or not has_moderation(provider):
        return None
    kwargs = {"api_base": provider.api_base} if provider.api_base else {}
    try:
        response = await amoderation(
            input=text, model=MODERATION_MODEL, api_key=provider.api_key or None, **kwargs
        )
    # LiteLLM hands the OpenAI SDK's own errors on (amoderation does not map them).
    except (openai.OpenAIError, ValueError) as exc:  # advisory: never reaches the learner
        logger.warning(
            "Moderation failed: provider=%s error=%s", provider.label, type(exc).__name__
        )
        return None
    return _result(response)
