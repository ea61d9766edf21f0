"""What the admin accepts as a provider's model string and extra parameters.

Kept apart from the models and the services so that both can use it: it
imports no model, only LiteLLM's provider list, the seam's own arguments and
the demo provider's prefix.
"""

from __future__ import annotations

import difflib
import re

import litellm
from django.core.exceptions import ValidationError

from llm_app.demo_provider import DEMO_PROVIDER_PREFIX
from llm_app.seam.request import SEAM_OWNED_PARAMS

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
