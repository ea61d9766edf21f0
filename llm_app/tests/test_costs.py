"""What a reply costs: LiteLLM's bundled price map, or the provider's own prices from the admin.

Precedence: both custom prices set → they are used; otherwise the map; a model neither prices
has a cost of ``None`` (unknown), never 0.
"""

from __future__ import annotations

from decimal import Decimal

import litellm
import pytest
from litellm.types.utils import Usage

from llm_app.admin import ProviderConfigForm
from llm_app.events import EventType
from llm_app.llm import stream_chat
from llm_app.models import ProviderConfig
from llm_app.providers import ResolvedProvider
from llm_app.seam.pricing import cost_usd
from llm_app.testing import FakeProviderServer, Reply

PRICED = "gemini/gemini-2.5-flash"
UNPRICED = "hosted_vllm/my-model"
# Missing from LiteLLM's map, but LiteLLM's provider metadata answers for it with prices of 0.
ZERO_PRICED_BY_METADATA = "anthropic/claude-sonnet-4-20250514"
USAGE = Usage(prompt_tokens=1000, completion_tokens=200, total_tokens=1200)


def map_cost(model: str, prompt: int, completion: int) -> float:
    prompt_cost, completion_cost = litellm.cost_per_token(
        model=model, prompt_tokens=prompt, completion_tokens=completion
    )
    return prompt_cost + completion_cost


def test_the_map_prices_a_known_model() -> None:
    cost = cost_usd(ResolvedProvider(model=PRICED), USAGE)
    assert cost == pytest.approx(map_cost(PRICED, 1000, 200))
    assert cost > 0


def test_custom_prices_take_precedence_over_the_map() -> None:
    provider = ResolvedProvider(
        model=PRICED, input_cost_per_million_tokens=2.0, output_cost_per_million_tokens=10.0
    )
    expected = 1000 * 2.0 / 1_000_000 + 200 * 10.0 / 1_000_000
    assert cost_usd(provider, USAGE) == pytest.approx(expected)
    assert expected != pytest.approx(map_cost(PRICED, 1000, 200))


def test_custom_prices_price_a_model_the_map_does_not_know() -> None:
    provider = ResolvedProvider(
        model=UNPRICED, input_cost_per_million_tokens=0.5, output_cost_per_million_tokens=1.5
    )
    assert cost_usd(provider, USAGE) == pytest.approx(0.0005 + 0.0003)


@pytest.mark.parametrize("model", [UNPRICED, ZERO_PRICED_BY_METADATA])
def test_an_unpriced_model_costs_none_not_zero(model: str) -> None:
    assert cost_usd(ResolvedProvider(model=model), USAGE) is None


def test_a_single_custom_price_is_not_enough_and_the_map_applies() -> None:
    half = ResolvedProvider(model=PRICED, input_cost_per_million_tokens=99.0)
    assert cost_usd(half, USAGE) == pytest.approx(map_cost(PRICED, 1000, 200))
    assert (
        cost_usd(ResolvedProvider(model=UNPRICED, input_cost_per_million_tokens=99.0), USAGE)
        is None
    )


def test_custom_prices_of_zero_record_a_free_model_as_zero() -> None:
    free = ResolvedProvider(
        model=UNPRICED, input_cost_per_million_tokens=0.0, output_cost_per_million_tokens=0.0
    )
    assert cost_usd(free, USAGE) == 0.0


def test_no_usage_reported_means_no_cost() -> None:
    assert cost_usd(ResolvedProvider(model=PRICED), None) is None


def anthropic_cache_usage() -> Usage:
    """Usage as LiteLLM reports a cache-reading Anthropic turn: prompt_tokens includes the reads."""
    return Usage(
        prompt_tokens=383,
        completion_tokens=7,
        total_tokens=390,
        prompt_tokens_details={"cached_tokens": 358, "text_tokens": 25},
        cache_creation_input_tokens=0,
        cache_read_input_tokens=358,
    )


def test_custom_prices_charge_cached_tokens_once_at_the_input_price() -> None:
    provider = ResolvedProvider(
        model="anthropic/claude-custom",
        input_cost_per_million_tokens=1.0,
        output_cost_per_million_tokens=2.0,
    )
    # Not 741 input tokens: LiteLLM would add the cache reads again if given the usage object.
    assert cost_usd(provider, anthropic_cache_usage()) == pytest.approx(383e-6 + 14e-6)


def test_map_prices_apply_the_cache_read_rate() -> None:
    model = "anthropic/claude-sonnet-4-5"
    info = litellm.get_model_info(model)
    cached = cost_usd(ResolvedProvider(model=model), anthropic_cache_usage())
    expected = (
        25 * info["input_cost_per_token"]
        + 358 * info["cache_read_input_token_cost"]
        + 7 * info["output_cost_per_token"]
    )
    assert cached == pytest.approx(expected)
    assert cached < map_cost(model, 383, 7)


async def test_the_answering_fallbacks_prices_are_used(
    anthropic_server: FakeProviderServer, openai_server: FakeProviderServer
) -> None:
    anthropic_server.enqueue(Reply.error(529))
    openai_server.enqueue(Reply.text("Priced by the admin.", input_tokens=100, output_tokens=40))
    fallback = ResolvedProvider.from_config(
        ProviderConfig(
            name="Local",
            model="openai/my-local-model",
            api_base=openai_server.url,
            api_key="k",
            input_cost_per_million_tokens=Decimal("3.0000"),
            output_cost_per_million_tokens=Decimal("6.0000"),
        )
    )
    primary = ResolvedProvider(
        model="anthropic/claude-sonnet-4-5",
        api_base=anthropic_server.url,
        api_key="k",
        input_cost_per_million_tokens=1000.0,
        output_cost_per_million_tokens=1000.0,
        fallbacks=(fallback,),
    )

    events = [
        e async for e in stream_chat([{"role": "user", "content": "Hi"}], "S", provider=primary)
    ]

    (usage,) = [e for e in events if e["type"] == EventType.USAGE]
    assert usage["provider"] == "Local"
    assert (usage["input_tokens"], usage["output_tokens"]) == (100, 40)
    assert usage["cost_usd"] == pytest.approx(100 * 3e-6 + 40 * 6e-6)


def form_data(**overrides: str) -> dict[str, str]:
    data = {
        "name": "Local",
        "model": UNPRICED,
        "api_base": "",
        "api_key": "",
        "max_tokens": "1024",
        "temperature": "",
        "timeout_seconds": "60",
        "extra_params": "{}",
        "enabled": "on",
        "input_cost_per_million_tokens": "",
        "output_cost_per_million_tokens": "",
        "daily_budget_usd": "",
    }
    data.update(overrides)
    return data


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("prices", "valid"),
    [
        ({}, True),
        ({"input_cost_per_million_tokens": "0.5", "output_cost_per_million_tokens": "1.5"}, True),
        ({"input_cost_per_million_tokens": "0.5"}, False),
        ({"output_cost_per_million_tokens": "1.5"}, False),
    ],
)
def test_the_admin_form_wants_both_prices_or_neither(prices: dict, valid: bool) -> None:
    form = ProviderConfigForm(data=form_data(**prices))
    assert form.is_valid() is valid, form.errors
    if not valid:
        assert "Set both prices" in str(form.errors)
    else:
        saved = ResolvedProvider.from_config(form.save())
        assert (cost_usd(saved, USAGE) is None) is (not prices)
