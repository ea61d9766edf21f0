"""How much a model can read at once, and how much a request asks it to.

The context size comes from the admin (``ProviderConfig.context_window_tokens``) when
staff set it, else from LiteLLM's model information (``max_input_tokens``);
self-hosted models (``hosted_vllm/``, ``ollama_chat/``) are not in LiteLLM's map, so
for them only the admin's number is known. Tokens are counted with LiteLLM's
``token_counter``: the model's own tokenizer where LiteLLM has it, OpenAI's
``cl100k`` otherwise, so the count for other models is an estimate and the budget
keeps a margin for it.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any

import litellm

if TYPE_CHECKING:
    from llm_app.providers import ResolvedProvider

logger = logging.getLogger(__name__)

# Share of the prompt budget a count may fill: tokenizers other than LiteLLM's differ
# (llama.cpp counted SmolLM2's chat template at about 1% more than cl100k here).
ESTIMATE_MARGIN = 0.9


def context_window(provider: ResolvedProvider) -> tuple[int | None, bool]:
    """The model's context size and whether it is shared with the reply.

    Staff's number is the whole context (llama.cpp's ``--n_ctx``: prompt and reply
    together); LiteLLM's ``max_input_tokens`` is the prompt's own limit. ``None``
    when neither is known.
    """
    if provider.context_window_tokens:
        return provider.context_window_tokens, True
    return _litellm_context_size(provider.model), False


@functools.cache
def _litellm_context_size(model: str) -> int | None:
    """LiteLLM's prompt limit for ``model``, or ``None``.

    Cached like ``llm_app.tool_support.model_refuses_tools``: every turn asks, and the
    map is bundled with LiteLLM, so the answer does not change while the process runs.
    """
    try:
        info = litellm.get_model_info(model)
    except Exception:  # not in LiteLLM's map (self-hosted, or a typo): nothing known
        logger.debug("LiteLLM has no model information for %s", model, exc_info=True)
        return None
    size = info.get("max_input_tokens") or info.get("max_tokens")
    return int(size) if size else None


def prompt_budget(provider: ResolvedProvider, reply_tokens: int) -> int | None:
    """Tokens the prompt (system, messages, tools) may take for ``provider``, or ``None``.

    The reply's ``max_tokens`` comes out of a shared context; the margin covers
    the difference between LiteLLM's count and the server's tokenizer.
    """
    size, shared = context_window(provider)
    if size is None:
        return None
    if shared:
        size -= provider.max_tokens or reply_tokens
    return max(int(size * ESTIMATE_MARGIN), 0)


def chain_budget(provider: ResolvedProvider, reply_tokens: int) -> int | None:
    """The smallest known budget of the provider and its fallbacks: any of them may answer."""
    budgets = [prompt_budget(candidate, reply_tokens) for candidate in provider.chain]
    known = [budget for budget in budgets if budget is not None]
    return min(known) if known else None


def count_tokens(model: str, messages: Sequence[dict[str, Any]]) -> int:
    """LiteLLM's count of ``messages`` (with its per-message overhead) for ``model``."""
    return litellm.token_counter(model=model, messages=list(messages))


# Messages counted, remembered by model, role and text: a conversation's history is
# counted again on every turn (on the event loop), and only its latest turns are new.
COUNTED_MESSAGES = 4096


@functools.lru_cache(maxsize=COUNTED_MESSAGES)
def _text_message_tokens(model: str, role: str, content: str) -> int:
    return count_tokens(model, [{"role": role, "content": content}])


def message_tokens(model: str, messages: Iterable[dict[str, Any]]) -> list[int]:
    """Each message's own count, so a caller can drop turns without counting again."""
    return [
        _text_message_tokens(model, message["role"], message["content"])
        if set(message) == {"role", "content"} and isinstance(message["content"], str)
        else count_tokens(model, [message])
        for message in messages
    ]


def overflows(
    provider: ResolvedProvider, messages: Sequence[dict[str, Any]], reply_tokens: int
) -> bool:
    """Whether the request's messages (the system message included) fill the known budget.

    For servers that answer an over-long prompt with an empty 200 (llama-cpp-python):
    their empty reply is then a context overflow, not a reply to retry.
    """
    budget = prompt_budget(provider, reply_tokens)
    if budget is None:
        return False
    try:
        return count_tokens(provider.model, messages) >= budget
    except Exception:  # a count must never turn one error into another
        logger.debug("Counting tokens for %s failed", provider.model, exc_info=True)
        return False
