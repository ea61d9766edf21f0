"""Operations on provider configurations: switching the default, the demo tutor, checking."""

from __future__ import annotations

import time
from dataclasses import dataclass, replace

from asgiref.sync import async_to_sync
from django.db import transaction

from llm_app import revisions
from llm_app.models import ProviderConfig, ToolUse
from llm_app.providers import DEMO_MODEL, ResolvedProvider, default_config
from llm_app.shell import LLMError, collect_reply, with_max_tokens

DEMO_PROVIDER_NAME = "Offline demo tutor"
CHECK_PROMPT = "Reply with one short friendly sentence to confirm you are working."
CHECK_MAX_TOKENS = 40


@transaction.atomic
def make_default(config: ProviderConfig) -> None:
    """Make ``config`` the only default, in one transaction, enabling it if needed.

    The one place that changes which provider is the default: the admin's
    action, the demo tutor's setup and the tests all come here.

    Every provider row is locked first, in primary-key order, so two switches at
    once (two staff, two tabs) run one after the other instead of both setting a
    default and one failing on the "at most one default" constraint. Locking only
    the current default and the target would not do: with no default yet, or two
    different targets, the two transactions would lock disjoint rows.
    """
    list(ProviderConfig.objects.select_for_update().order_by("pk").values_list("pk", flat=True))
    ProviderConfig.objects.filter(is_default=True).exclude(pk=config.pk).update(is_default=False)
    ProviderConfig.objects.filter(pk=config.pk).update(is_default=True, enabled=True)
    revisions.bump()
    config.is_default = True
    config.enabled = True


def ensure_demo_provider() -> ProviderConfig:
    """Create the offline demo tutor, and make it the default if nothing else is."""
    config, _ = ProviderConfig.objects.get_or_create(
        name=DEMO_PROVIDER_NAME,
        defaults={"model": DEMO_MODEL, "max_tokens": 512, "timeout_seconds": 30},
    )
    if default_config() is None:
        make_default(config)
    return config


LOCAL_MODEL_NAME = "Local SmolLM2 (llama.cpp)"


def register_local_model(
    api_base: str, *, alias: str, context_window_tokens: int, make_it_default: bool = False
) -> ProviderConfig:
    """The admin provider for a llama-cpp-python server on this machine (``make local-model``).

    ``hosted_vllm/`` is LiteLLM's route for any OpenAI-compatible server (``ollama_chat/``
    speaks Ollama's own API, which llama.cpp does not). A 135M model on a CPU is slow and
    never calls the move-on tool on its own, so tools are off (the learner uses *Next*),
    the timeouts are generous, and its prices are 0: it is free, not unpriced.
    """
    config, _ = ProviderConfig.objects.update_or_create(
        name=LOCAL_MODEL_NAME,
        defaults={
            "model": f"hosted_vllm/{alias}",
            "api_base": api_base,
            "api_key": "",
            "max_tokens": 256,
            "context_window_tokens": context_window_tokens,
            "tool_use": ToolUse.OFF,
            "timeout_seconds": 180,
            "connect_timeout_seconds": 10,
            "first_token_timeout_seconds": 120,
            "max_retries": 0,
            "input_cost_per_million_tokens": 0,
            "output_cost_per_million_tokens": 0,
            "enabled": True,
        },
    )
    if make_it_default:
        make_default(config)
    return config


@dataclass(frozen=True)
class ConnectionCheck:
    ok: bool
    latency_ms: int
    first_words: str = ""
    error_code: str = ""
    error_message: str = ""

    def summary(self) -> str:
        if self.ok:
            return f"OK in {self.latency_ms} ms: “{self.first_words}”"
        return f"Failed ({self.error_code}) after {self.latency_ms} ms: {self.error_message}"


def check_provider(config: ProviderConfig | ResolvedProvider) -> ConnectionCheck:
    """Send a tiny prompt and report success, latency and the first words, or the cause.

    A failure reports what the provider really said (status, error type, its
    message, keys redacted: ``llm_app.seam.diagnosis``), for staff only.

    Only this provider is asked, once: a fallback answering or a retry
    succeeding would hide exactly what staff want to know.
    """
    resolved = (
        config
        if isinstance(config, ResolvedProvider)
        else ResolvedProvider.from_config(config, with_fallbacks=False)
    )
    # The admin's max_tokens would beat the caller's (see build_completion_kwargs): a check
    # asks for a few words, whatever the provider's replies may be.
    resolved = with_max_tokens(replace(resolved, fallbacks=(), max_retries=0), CHECK_MAX_TOKENS)
    started = time.monotonic()
    try:
        text, _ = async_to_sync(collect_reply)(
            [{"role": "user", "content": CHECK_PROMPT}],
            "You are checking that a connection works.",
            provider=resolved,
            max_tokens=CHECK_MAX_TOKENS,
        )
    except LLMError as exc:
        latency = round((time.monotonic() - started) * 1000)
        # Staff read the real cause (keys redacted), not the learner's wording.
        return ConnectionCheck(False, latency, error_code=exc.code, error_message=exc.staff_detail)
    latency = round((time.monotonic() - started) * 1000)
    words = " ".join(text.split()[:12])
    return ConnectionCheck(True, latency, first_words=words)
