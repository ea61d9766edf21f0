"""Which provider answers a chat turn.

Resolution order: an explicit provider, then the admin's default, then the
``LLM_PROVIDER`` environment variable. Nothing is cached between calls, so a
default switched in the admin applies to the very next message in every
worker process.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

from llm_app.demo_provider import DEMO_PROVIDER_PREFIX
from llm_app.models import ProviderConfig

DEMO_MODEL = f"{DEMO_PROVIDER_PREFIX}/offline-tutor"


@dataclass(frozen=True)
class ResolvedProvider:
    """Everything the seam needs to call one model, detached from the database."""

    model: str
    name: str = ""
    api_base: str = ""
    # Excluded from repr so a logged or printed provider never shows the key.
    api_key: str = field(default="", repr=False)
    max_tokens: int | None = None
    temperature: float | None = None
    timeout_seconds: float | None = None
    extra_params: dict[str, Any] = field(default_factory=dict)
    # Set when an A/B experiment chose this provider, so the turn can be attributed.
    experiment_arm_id: int | None = None

    @property
    def label(self) -> str:
        return self.name or self.model

    @property
    def is_demo(self) -> bool:
        return self.model.startswith(DEMO_PROVIDER_PREFIX + "/")

    @classmethod
    def from_config(cls, config: ProviderConfig) -> ResolvedProvider:
        return cls(
            model=config.model,
            name=config.name,
            api_base=config.api_base,
            api_key=config.api_key,
            max_tokens=config.max_tokens,
            temperature=config.temperature,
            timeout_seconds=config.timeout_seconds,
            extra_params=dict(config.extra_params or {}),
        )


ProviderLike = ResolvedProvider | ProviderConfig | str | None


def _from_environment() -> ResolvedProvider:
    from llm_app.llm import DEFAULT_PROVIDER

    return ResolvedProvider(model=DEFAULT_PROVIDER)


def _explicit(provider: ResolvedProvider | ProviderConfig | str) -> ResolvedProvider:
    if isinstance(provider, ResolvedProvider):
        return provider
    if isinstance(provider, ProviderConfig):
        return ResolvedProvider.from_config(provider)
    config = ProviderConfig.objects.filter(name=provider).first()
    if config is not None:
        return ResolvedProvider.from_config(config)
    return ResolvedProvider(model=provider)


def resolve_provider(provider: ProviderLike = None, user=None) -> ResolvedProvider:
    """Resolve the provider for a turn: explicit → experiment arm → admin default → environment.

    An explicit string is a provider name from the admin if one has that name,
    otherwise a LiteLLM model string. ``user`` places the learner in the active
    experiment, if any.
    """
    if provider:
        return _explicit(provider)
    if user is not None:
        from llm_app.experiments import arm_for

        arm = arm_for(user)
        if arm is not None:
            return replace(ResolvedProvider.from_config(arm.provider), experiment_arm_id=arm.pk)
    config = ProviderConfig.objects.filter(is_default=True, enabled=True).first()
    if config is not None:
        return ResolvedProvider.from_config(config)
    return _from_environment()


async def aresolve_provider(provider: ProviderLike = None, user=None) -> ResolvedProvider:
    """:func:`resolve_provider` for async callers such as the chat consumer."""
    # Channels' wrapper closes the thread's database connection afterwards, as a request would.
    from channels.db import database_sync_to_async

    return await database_sync_to_async(resolve_provider)(provider, user)
