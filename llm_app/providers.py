"""Which provider answers a chat turn.

Resolution order: an explicit provider, then the active experiment's arm, then
the admin's default, then ``settings.LLM_PROVIDER`` (the environment's). An admin
provider comes with its fallback chain, timeouts, retries and prices.

What the admin's rows resolve to (the default, the experiment's arms) is kept in
the process under the providers' revision (``llm_app.revisions``), which every
change to those rows replaces. Each turn reads the revision, one small query,
and resolves again only when it changed: a default or a fallback chain changed
in the admin applies to the very next message in every worker process.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from decimal import Decimal
from typing import Any

from channels.db import database_sync_to_async
from django.conf import settings
from django.core.exceptions import ValidationError

from llm_app import revisions
from llm_app.demo_provider import DEMO_PROVIDER_PREFIX, is_demo_model
from llm_app.experiments import active_arms, arm_among
from llm_app.models import ExperimentArm, ProviderConfig, ToolUse
from llm_app.validation import validate_model_string

DEMO_MODEL = f"{DEMO_PROVIDER_PREFIX}/offline-tutor"


# Backoff before the first retry of a provider; doubled for each further retry.
DEFAULT_RETRY_BACKOFF_SECONDS = 0.5


@dataclass(frozen=True)
class ResolvedProvider:
    """Everything the seam needs to call one model, detached from the database.

    Defaults suit a bare model string (the environment's ``LLM_PROVIDER`` or an
    explicit one): no retries, no fallbacks, no timeouts beyond LiteLLM's own,
    LiteLLM's prices. An admin provider fills them from its row.
    """

    model: str
    name: str = ""
    api_base: str = ""
    # Excluded from repr so a logged or printed provider never shows the key.
    api_key: str = field(default="", repr=False)
    max_tokens: int | None = None
    # Staff's context size for a model LiteLLM does not know (see llm_app.seam.context).
    context_window_tokens: int | None = None
    # False: requests to this provider never carry tools (ProviderConfig.tool_use "off").
    uses_tools: bool = True
    temperature: float | None = None
    # Bounds one whole call, from sending the request to the last chunk.
    timeout_seconds: float | None = None
    extra_params: dict[str, Any] = field(default_factory=dict)
    # Set when an A/B experiment chose this provider, so the turn can be attributed.
    experiment_arm_id: int | None = None
    # The admin provider this was resolved from, which budgets and usage are kept by.
    config_id: int | None = None
    # Bounds the wait until the provider accepts the request (see docs/providers.md).
    connect_timeout_seconds: float | None = None
    # Bounds the wait for the first token; on expiry the turn retries or falls back.
    first_token_timeout_seconds: float | None = None
    max_retries: int = 0
    retry_backoff_seconds: float = DEFAULT_RETRY_BACKOFF_SECONDS
    # Staff's own prices; used only when both are set (see llm_app.seam.pricing.cost_usd).
    input_cost_per_million_tokens: float | None = None
    output_cost_per_million_tokens: float | None = None
    # Staff's daily spending cap for this provider (the spending guard's), if any.
    daily_budget_usd: Decimal | None = None
    # Tried in order when this provider fails before its first token. One level
    # deep: a fallback's own fallbacks are not followed.
    fallbacks: tuple[ResolvedProvider, ...] = ()

    @property
    def label(self) -> str:
        return self.name or self.model

    @property
    def is_demo(self) -> bool:
        return is_demo_model(self.model)

    @property
    def chain(self) -> tuple[ResolvedProvider, ...]:
        """This provider, then its fallbacks: the order a turn tries them in."""
        return (self, *self.fallbacks)

    @classmethod
    def from_config(
        cls, config: ProviderConfig, *, with_fallbacks: bool = True
    ) -> ResolvedProvider:
        """Detach ``config`` from the database, with its enabled fallbacks in order.

        Reads ``config.fallback_links`` (one query). Disabled fallbacks are
        skipped, and so is any that repeats the primary or an earlier fallback,
        so the chain has no cycles. Fallbacks are resolved without their own
        fallbacks: the chain is only one level deep.
        """
        fallbacks: tuple[ResolvedProvider, ...] = ()
        if with_fallbacks and config.pk is not None:
            seen = {config.pk}
            chain = []
            for link in config.fallback_links.select_related("fallback").order_by("position", "id"):
                target = link.fallback
                if not target.enabled or target.pk in seen:
                    continue
                seen.add(target.pk)
                chain.append(cls.from_config(target, with_fallbacks=False))
            fallbacks = tuple(chain)
        return cls(
            model=config.model,
            name=config.name,
            api_base=config.api_base,
            api_key=config.api_key,
            max_tokens=config.max_tokens,
            context_window_tokens=config.context_window_tokens,
            uses_tools=config.tool_use != ToolUse.OFF,
            temperature=config.temperature,
            timeout_seconds=config.timeout_seconds,
            extra_params=dict(config.extra_params or {}),
            connect_timeout_seconds=config.connect_timeout_seconds,
            first_token_timeout_seconds=config.first_token_timeout_seconds,
            max_retries=config.max_retries,
            input_cost_per_million_tokens=_float_or_none(config.input_cost_per_million_tokens),
            output_cost_per_million_tokens=_float_or_none(config.output_cost_per_million_tokens),
            daily_budget_usd=config.daily_budget_usd,
            fallbacks=fallbacks,
            config_id=config.pk,
        )


def _float_or_none(value: Decimal | float | None) -> float | None:
    return None if value is None else float(value)


ProviderLike = ResolvedProvider | ProviderConfig | str | None


def _from_environment() -> ResolvedProvider:
    # Read at each call, so a test that overrides the setting is followed.
    return ResolvedProvider(model=settings.LLM_PROVIDER)


class UnknownProviderError(ValueError):
    """An explicit provider string that is neither an admin provider nor a model LiteLLM routes.

    Raised before any call, so a typo in ``shell.ask(provider=...)`` or
    ``llm_chat --provider`` says what is known instead of failing at the provider.
    """


def _explicit(provider: ResolvedProvider | ProviderConfig | str) -> ResolvedProvider:
    if isinstance(provider, ResolvedProvider):
        return provider
    if isinstance(provider, ProviderConfig):
        return ResolvedProvider.from_config(provider)
    config = ProviderConfig.objects.filter(name=provider).first()
    if config is not None:
        return ResolvedProvider.from_config(config)
    try:
        validate_model_string(provider)
    except ValidationError as exc:
        names = ProviderConfig.objects.order_by("name").values_list("name", flat=True)
        raise UnknownProviderError(
            f"No provider in the admin is named {provider!r}, and it is not a LiteLLM model "
            f"string: {exc.messages[0]} Providers in the admin: {', '.join(names) or 'none'}."
        ) from None
    return ResolvedProvider(model=provider)


def default_config() -> ProviderConfig | None:
    """The admin's default provider, if one is set (``services.make_default`` sets it)."""
    return ProviderConfig.objects.filter(is_default=True, enabled=True).first()


@dataclass(frozen=True)
class _AdminChoice:
    """What the admin's rows say about who answers, under one revision of them."""

    revision: str | None
    default: ResolvedProvider | None
    # The active experiment's arms (their providers loaded) and each one's provider.
    arms: tuple[ExperimentArm, ...] = ()
    arm_providers: dict[int, ResolvedProvider] = field(default_factory=dict)

    def for_user(self, user) -> ResolvedProvider | None:
        arm = arm_among(self.arms, user)
        return self.arm_providers[arm.pk] if arm is not None else self.default


def _read_admin_choice(revision: str | None) -> _AdminChoice:
    arms = active_arms()
    config = default_config()
    return _AdminChoice(
        revision=revision,
        default=ResolvedProvider.from_config(config) if config is not None else None,
        arms=arms,
        arm_providers={
            arm.pk: replace(ResolvedProvider.from_config(arm.provider), experiment_arm_id=arm.pk)
            for arm in arms
            if arm.provider.enabled
        },
    )


_admin_choice: _AdminChoice | None = None


def _current_admin_choice() -> _AdminChoice:
    """The admin's choice for the revision now in the database, read again only if it changed."""
    global _admin_choice
    revision = revisions.current()
    known = _admin_choice
    if known is not None and revision is not None and known.revision == revision:
        return known
    choice = _read_admin_choice(revision)
    if revision is not None:
        _admin_choice = choice  # one assignment: threads see the old choice or the new one
    return choice


def resolve_provider(provider: ProviderLike = None, user=None) -> ResolvedProvider:
    """Resolve the provider for a turn: explicit → experiment arm → admin default → environment.

    An explicit string is a provider name from the admin if one has that name,
    otherwise a LiteLLM model string; anything else raises
    :class:`UnknownProviderError`. ``user`` places the learner in the active
    experiment, if any.
    """
    if provider:
        return _explicit(provider)
    return _current_admin_choice().for_user(user) or _from_environment()


async def aresolve_provider(provider: ProviderLike = None, user=None) -> ResolvedProvider:
    """:func:`resolve_provider` for async callers such as the chat consumer."""
    # Channels' wrapper closes the thread's database connection afterwards, as a request would.
    return await database_sync_to_async(resolve_provider)(provider, user)
