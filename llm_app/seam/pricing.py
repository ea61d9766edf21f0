"""What a reply cost, and how much of its prompt the provider's cache read or wrote."""

from __future__ import annotations

import functools
import logging
from typing import TYPE_CHECKING, Any

import litellm

if TYPE_CHECKING:
    from llm_app.providers import ResolvedProvider

logger = logging.getLogger(__name__)

TOKENS_PER_MILLION = 1_000_000


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


@functools.cache
def priced_by_litellm(model: str) -> bool:
    """Whether LiteLLM's bundled map really prices ``model``.

    For a model missing from the map LiteLLM may still answer from the
    provider's metadata, with prices of zero; that is "unknown", not "free".
    Cached: every reply asks, the lookup of a model the map lacks costs about
    0.1 ms of CPU, and the map is bundled with LiteLLM
    (``LITELLM_LOCAL_MODEL_COST_MAP``), so the answer does not change while the
    process runs.
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
