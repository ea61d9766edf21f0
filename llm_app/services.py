"""Operations on provider configurations: validation, switching, checking."""

from __future__ import annotations

import difflib
import time
from dataclasses import dataclass, replace

import litellm
from asgiref.sync import async_to_sync
from django.core.exceptions import ValidationError
from django.db import transaction

from llm_app.demo_provider import DEMO_PROVIDER_PREFIX
from llm_app.models import ProviderConfig
from llm_app.providers import DEMO_MODEL, ResolvedProvider

DEMO_PROVIDER_NAME = "Offline demo tutor"
CHECK_PROMPT = "Reply with one short friendly sentence to confirm you are working."
CHECK_MAX_TOKENS = 40

# kwargs that the seam sets itself or that would leak into logs if accepted here.
_FORBIDDEN_EXTRA_PARAMS = frozenset(
    {"model", "messages", "stream", "tools", "api_key", "api_base", "max_tokens", "temperature"}
)


def known_provider_prefixes() -> list[str]:
    prefixes = {getattr(p, "value", p) for p in litellm.provider_list}
    prefixes.add(DEMO_PROVIDER_PREFIX)
    return sorted(prefixes)


def validate_model_string(model: str) -> None:
    """Reject model strings LiteLLM cannot route, suggesting the likely intended one."""
    model = (model or "").strip()
    prefix, slash, name = model.partition("/")
    if not slash or not prefix or not name:
        raise ValidationError(
            "Write the model as provider/model, e.g. anthropic/claude-sonnet-4-20250514, "
            "gemini/gemini-2.5-flash or openai/gpt-4o-mini."
        )
    prefixes = known_provider_prefixes()
    if prefix in prefixes:
        return
    suggestions = difflib.get_close_matches(prefix, prefixes, n=3, cutoff=0.6)
    hint = (
        f" Did you mean {', '.join(s + '/' + name for s in suggestions)}?"
        if suggestions
        else " See the LiteLLM provider list for the prefixes it knows."
    )
    raise ValidationError(f"LiteLLM does not know the provider {prefix!r}.{hint}")


def validate_extra_params(extra_params: object) -> None:
    if extra_params in (None, ""):
        return
    if not isinstance(extra_params, dict):
        raise ValidationError('Extra parameters must be a JSON object, e.g. {"top_p": 0.9}.')
    clashing = sorted(_FORBIDDEN_EXTRA_PARAMS & set(extra_params))
    if clashing:
        raise ValidationError(
            f"Set {', '.join(clashing)} with the form's own fields, not in extra parameters."
        )


@transaction.atomic
def make_default(config: ProviderConfig) -> None:
    """Make ``config`` the only default, in one transaction, enabling it if needed."""
    ProviderConfig.objects.select_for_update().filter(is_default=True).exclude(pk=config.pk).update(
        is_default=False
    )
    ProviderConfig.objects.filter(pk=config.pk).update(is_default=True, enabled=True)
    config.is_default = True
    config.enabled = True


def ensure_demo_provider() -> ProviderConfig:
    """Create the offline demo tutor, and make it the default if nothing else is."""
    config, _ = ProviderConfig.objects.get_or_create(
        name=DEMO_PROVIDER_NAME,
        defaults={"model": DEMO_MODEL, "max_tokens": 512, "timeout_seconds": 30},
    )
    if not ProviderConfig.objects.filter(is_default=True).exists():
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
    """Send a tiny prompt and report success, latency and the first words, or a safe error.

    Only this provider is asked, once: a fallback answering or a retry
    succeeding would hide exactly what staff want to know.
    """
    from llm_app.llm import LLMError, collect_reply

    resolved = (
        config
        if isinstance(config, ResolvedProvider)
        else ResolvedProvider.from_config(config, with_fallbacks=False)
    )
    resolved = replace(resolved, fallbacks=(), max_retries=0)
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
        return ConnectionCheck(False, latency, error_code=exc.code, error_message=exc.message)
    latency = round((time.monotonic() - started) * 1000)
    words = " ".join(text.split()[:12])
    return ConnectionCheck(True, latency, first_words=words)
