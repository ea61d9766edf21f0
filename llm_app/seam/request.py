"""The keyword arguments of one ``acompletion`` call, valid for every provider."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from llm_app.seam.prompt_caching import SplitSystemPrompt, system_message

if TYPE_CHECKING:
    # Only for annotations: providers imports the admin's validation, which imports this.
    from llm_app.providers import ResolvedProvider

# What the seam sets on every call itself: staff cannot set these in extra_params.
SEAM_OWNED_PARAMS = frozenset({"messages", "stream", "stream_options", "tools", "litellm_trace_id"})
# Dropped from extra_params even if a row was saved without validation: the seam's own
# arguments, and the provider's identity and credentials, which only their fields set.
_RESERVED_PARAMS = SEAM_OWNED_PARAMS | {"model", "api_key", "api_base"}


def build_completion_kwargs(
    messages: list[dict],
    system: str | SplitSystemPrompt,
    tools: list[dict] | None,
    provider: ResolvedProvider,
    max_tokens: int,
) -> dict[str, Any]:
    """The keyword arguments for ``acompletion``, valid for every provider.

    The system prompt goes first; ``system`` messages inside ``messages`` are
    stage markers for people and are dropped. ``tools`` is sent only when
    there are some (several providers reject ``null`` or an empty list) and
    the provider uses tools (staff turn them off for models and servers that
    cannot: ``ProviderConfig.tool_use``).
    """
    llm_messages = [system_message(system, provider.model)] + [
        message for message in messages if message.get("role") != "system"
    ]
    if provider.max_tokens:
        # Staff set this in the admin for this provider; it beats the caller's default.
        max_tokens = provider.max_tokens
    kwargs: dict[str, Any] = {
        key: value for key, value in provider.extra_params.items() if key not in _RESERVED_PARAMS
    }
    kwargs.update(
        model=provider.model,
        messages=llm_messages,
        max_tokens=max_tokens,
        stream=True,
        stream_options={"include_usage": True},
        # Retries and fallbacks are the seam's own loop; the SDKs must not add theirs.
        max_retries=0,
    )
    if tools and provider.uses_tools:
        kwargs["tools"] = tools
    if provider.api_base:
        kwargs["api_base"] = provider.api_base
    if provider.api_key:
        kwargs["api_key"] = provider.api_key
    if provider.temperature is not None:
        kwargs["temperature"] = provider.temperature
    if provider.timeout_seconds:
        kwargs["timeout"] = provider.timeout_seconds
    return kwargs
