"""The fake OpenAI server's moderation endpoint: POST /v1/moderations, strict like the real one.

What LiteLLM's ``amoderation`` sends (through the OpenAI SDK) is ``{"input", "model"}``;
any other field, an input that is not text (or a list of texts), or a model that is
not text is a 400 in OpenAI's shape. A text is flagged in a category when it contains
one of the terms a test gave with ``server.flag("term", "harassment")``.
"""

from __future__ import annotations

import uuid
from typing import Any

MODERATIONS_PATH = "/v1/moderations"
MODERATION_FIELDS = frozenset({"input", "model"})
DEFAULT_MODERATION_MODEL = "omni-moderation-latest"
# The real endpoint's categories, as it names them on the wire.
CATEGORIES = (
    "harassment",
    "harassment/threatening",
    "hate",
    "hate/threatening",
    "illicit",
    "illicit/violent",
    "self-harm",
    "self-harm/intent",
    "self-harm/instructions",
    "sexual",
    "sexual/minors",
    "violence",
    "violence/graphic",
)


def moderation_problem(body: Any) -> tuple[str, str | None] | None:
    """What is wrong with a request body (message, param), or ``None`` if it is fine."""
    if not isinstance(body, dict):
        return ("We could not parse the JSON body of your request.", None)
    for name in body:
        if name not in MODERATION_FIELDS:
            return (f"Unrecognized request argument supplied: {name}", None)
    texts = body.get("input")
    if isinstance(texts, str):
        texts = [texts]
    if not isinstance(texts, list) or not texts or not all(isinstance(t, str) for t in texts):
        return ("Invalid 'input': expected a string or an array of strings.", "input")
    if "model" in body and not isinstance(body["model"], str):
        return ("Invalid 'model': expected a string.", "model")
    return None


def _result(text: str, flagged_terms: dict[str, str]) -> dict[str, Any]:
    lowered = text.casefold()
    hit = {category for term, category in flagged_terms.items() if term.casefold() in lowered}
    return {
        "flagged": bool(hit),
        "categories": {category: category in hit for category in CATEGORIES},
        "category_scores": {category: 0.99 if category in hit else 0.0 for category in CATEGORIES},
        "category_applied_input_types": {
            category: ["text"] if category in hit else [] for category in CATEGORIES
        },
    }


def moderation_body(body: dict[str, Any], flagged_terms: dict[str, str]) -> dict[str, Any]:
    texts = body["input"] if isinstance(body["input"], list) else [body["input"]]
    return {
        "id": f"modr-{uuid.uuid4().hex[:24]}",
        "model": body.get("model", DEFAULT_MODERATION_MODEL),
        "results": [_result(text, flagged_terms) for text in texts],
    }
