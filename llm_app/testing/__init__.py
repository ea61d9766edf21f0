"""Test helpers that ship with the app: fake LLM provider servers (see README.md here).

Names are loaded lazily so that `python -m llm_app.testing.fake_providers` does not import its
own module twice.
"""

from importlib import import_module
from typing import Any

__all__ = [
    "FakeAnthropicServer",
    "FakeGeminiServer",
    "FakeOpenAIServer",
    "FakeProviderServer",
    "RecordedRequest",
    "Reply",
    "fake_server",
]


def __getattr__(name: str) -> Any:
    if name in __all__:
        return getattr(import_module("llm_app.testing.fake_providers"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
