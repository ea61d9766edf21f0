"""Whether a provider's model can be given tools: staff's setting, then LiteLLM's word.

A stage whose tutor cannot call tools still works: it is sent no tools and its prompt
says that nothing is recorded (lessons_app.prompts). Staff turn tools off for a
provider (``ProviderConfig.tool_use``); a model that LiteLLM's model map says cannot
call functions is treated the same. A model the map does not know (self-hosted ones)
is left to staff's setting.
"""

from __future__ import annotations

import functools
import logging

import litellm

from llm_app.providers import ResolvedProvider

logger = logging.getLogger(__name__)


@functools.cache
def model_refuses_tools(model: str) -> bool:
    """LiteLLM's model map says ``model`` does not support function calling.

    Cached: the map is bundled with LiteLLM (``LITELLM_LOCAL_MODEL_COST_MAP``), so the
    answer for a model string does not change while the process runs.
    """
    try:
        info = litellm.get_model_info(model)
    except Exception:  # not in the map: nothing known
        logger.debug("LiteLLM has no model information for %s", model, exc_info=True)
        return False
    return info.get("supports_function_calling") is False


def calls_tools(provider: ResolvedProvider) -> bool:
    """Whether requests to ``provider`` carry tools."""
    return provider.uses_tools and not model_refuses_tools(provider.model)


def why_no_tools(provider: ResolvedProvider) -> str:
    """Why ``provider`` is given no tools, for staff; empty if it is given them."""
    if not provider.uses_tools:
        return "its tool use is off"
    if model_refuses_tools(provider.model):
        return "LiteLLM says its model cannot call tools"
    return ""
