"""factory_boy factories for provider configurations and turn records.

``ProviderFactory()`` saves an enabled provider with a name of its own; a test names
only the fields it is about. ``DemoProviderFactory`` is the offline demo tutor with no
pause between words, so that a reply streams at once. ``TurnRecordFactory()`` is the
record of a priced, complete reply with every field filled in (nothing is saved).
"""

from __future__ import annotations

import factory
from factory.django import DjangoModelFactory

from llm_app.models import ProviderConfig
from llm_app.providers import DEMO_MODEL
from llm_app.turn_record import TurnRecord

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


class TurnRecordFactory(factory.Factory):
    """A turn's numbers with no field left ``None``, so a record that loses one shows it."""

    class Meta:
        model = TurnRecord

    provider = "Claude"
    model = "anthropic/claude-sonnet-4-20250514"
    input_tokens = 812
    output_tokens = 120
    cache_read_tokens = 700
    cache_write_tokens = 0
    cost_usd = 0.004321
    finish_reason = "stop"
    time_to_first_token_ms = 640
    total_time_ms = 2100
    attempts = 1
    provider_id = 7
