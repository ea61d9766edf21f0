"""factory_boy factories for provider configurations.

``ProviderFactory()`` saves an enabled provider with a name of its own; a test names
only the fields it is about. ``DemoProviderFactory`` is the offline demo tutor with no
pause between words, so that a reply streams at once.
"""

from __future__ import annotations

import factory
from factory.django import DjangoModelFactory

from llm_app.models import ProviderConfig
from llm_app.providers import DEMO_MODEL

# Offline demo tutor settings for tests: stream every word at once.
INSTANT_DEMO_PARAMS = {"word_delay": 0}


class ProviderFactory(DjangoModelFactory):
    class Meta:
        model = ProviderConfig

    name = factory.Sequence(lambda n: f"Provider {n}")
    model = "openai/gpt-4o-mini"


class DemoProviderFactory(ProviderFactory):
    name = "Demo"
    model = DEMO_MODEL
    extra_params = factory.LazyFunction(lambda: dict(INSTANT_DEMO_PARAMS))
