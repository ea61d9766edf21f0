"""Operations on provider configurations: validation, switching, checking."""

from __future__ import annotations

import difflib
import re
import time
from dataclasses import dataclass, replace

import litellm
from asgiref.sync import async_to_sync
from django.core.exceptions import ValidationError
from django.db import transaction

from llm_app.demo_provider import DEMO_PROVIDER_PREFIX
from llm_app.models import ProviderConfig
from llm_app.providers import DEMO_MODEL, ResolvedProvider
from llm_app.seam.request import SEAM_OWNED_PARAMS
from llm_app.shell import LLMError, collect_reply

DEMO_PROVIDER_NAME = "Offline demo tutor"
CHECK_PROMPT = "Reply with one short friendly sentence to confirm you are working."
CHECK_MAX_TOKENS = 40

# Extra parameters that have their own field in the admin, and the field to use instead.
# The seam sets each of them from that field (``base_url`` is LiteLLM's alias of
# ``api_base``, ``max_completion_tokens`` the newer name of ``max_tokens``).
_FIELD_PARAMS = {
    "model": "model",
    "api_key": "API key",
    "api_base": "API base",
    "base_url": "API base",
    "max_tokens": "max tokens",
    "max_completion_tokens": "max tokens",
    "temperature": "temperature",
    "timeout": "total timeout",
    "max_retries": "max retries",
}
# Extra parameters that may hold HTTP headers, whose names are checked for secrets too.
_HEADER_PARAMS = ("extra_headers", "headers")
# extra_params is stored and shown in plain text (admin, repr), so names that look like they
# carry a credential are refused. "tokens" (a count, as in max_tokens) and "token_id(s)" (as in
# vLLM's stop_token_ids) are not secrets; nor is OpenAI's prompt_cache_key, a routing hint.
_SECRET_WORDS = ("key", "secret", "token", "password", "credential", "authorization")
_NOT_SECRET_PARTS = re.compile(r"tokens|token_ids?")
_NOT_SECRET_NAMES = frozenset({"prompt_cache_key"})


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


def looks_secret(name: object) -> bool:
    """Whether a parameter or header name suggests its value is a credential."""
    lowered = str(name).lower()
    if lowered in _NOT_SECRET_NAMES:
        return False
    lowered = _NOT_SECRET_PARTS.sub("", lowered)
    return any(word in lowered for word in _SECRET_WORDS)


def validate_extra_params(extra_params: object) -> None:
    """Refuse what the seam sets itself, what has its own field, and anything secret-looking."""
    if extra_params in (None, ""):
        return
    if not isinstance(extra_params, dict):
        raise ValidationError('Extra parameters must be a JSON object, e.g. {"top_p": 0.9}.')
    errors: list[str] = []
    secrets = sorted(name for name in extra_params if looks_secret(name))
    for name in _HEADER_PARAMS:
        headers = extra_params.get(name)
        if headers is None:
            continue
        if not isinstance(headers, dict):
            errors.append(f"{name} must be a JSON object of header names and values.")
            continue
        secrets += sorted(f"{header} in {name}" for header in headers if looks_secret(header))
    if secrets:
        errors.append(
            f"Keep secrets out of extra parameters ({', '.join(secrets)}): they are stored and "
            "shown in plain text. Put the key in the API key field, which is encrypted."
        )
    by_field: dict[str, list[str]] = {}
    for name in sorted(set(extra_params) & set(_FIELD_PARAMS)):
        if not looks_secret(name):
            by_field.setdefault(_FIELD_PARAMS[name], []).append(name)
    errors += [
        f"Set {', '.join(names)} with the {field} field, not in extra parameters."
        for field, names in by_field.items()
    ]
    owned = sorted(SEAM_OWNED_PARAMS & set(extra_params))
    if owned:
        errors.append(
            f"The tutor sets {', '.join(owned)} itself on every call; remove "
            f"{'it' if len(owned) == 1 else 'them'} from extra parameters."
        )
    if errors:
        raise ValidationError(errors)


@transaction.atomic
def make_default(config: ProviderConfig) -> None:
    """Make ``config`` the only default, in one transaction, enabling it if needed.

    Every provider row is locked first, in primary-key order, so two switches at
    once (two staff, two tabs) run one after the other instead of both setting a
    default and one failing on the "at most one default" constraint. Locking only
    the current default and the target would not do: with no default yet, or two
    different targets, the two transactions would lock disjoint rows.
    """
    list(ProviderConfig.objects.select_for_update().order_by("pk").values_list("pk", flat=True))
    ProviderConfig.objects.filter(is_default=True).exclude(pk=config.pk).update(is_default=False)
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
    resolved = (
        config
        if isinstance(config, ResolvedProvider)
        else ResolvedProvider.from_config(config, with_fallbacks=False)
    )
    # The admin's max_tokens would beat the caller's (see build_completion_kwargs): a check
    # asks for a few words, whatever the provider's replies may be.
    resolved = replace(resolved, fallbacks=(), max_retries=0, max_tokens=CHECK_MAX_TOKENS)
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
