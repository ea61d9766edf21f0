"""`llm_app.services`: the connection check against the fake providers, and switching the
default under concurrency (on PostgreSQL, where two requests really run at once)."""

from __future__ import annotations

import pytest

from llm_app.models import ProviderConfig
from llm_app.services import CHECK_MAX_TOKENS, check_provider, make_default
from llm_app.testing import FakeProviderServer, Reply

MODELS = {
    "anthropic": "anthropic/claude-sonnet-4-20250514",
    "gemini": "gemini/gemini-2.5-flash",
    "openai": "openai/gpt-4o-mini",
}
API_KEY = "test-key-check-2468"
ROUNDS = 20
THREADS = 2


@pytest.fixture(params=sorted(MODELS))
def server(request: pytest.FixtureRequest) -> FakeProviderServer:
    return request.getfixturevalue(f"{request.param}_server")


@pytest.mark.django_db
def test_check_asks_for_a_few_tokens_whatever_the_providers_max_tokens(server):
    config = ProviderConfig.objects.create(
        name="Big replies",
        model=MODELS[server.kind],
        api_base=server.url,
        api_key=API_KEY,
        max_tokens=1024,
    )
    server.enqueue(Reply.text("Hello, I am working."))
    result = check_provider(config)
    assert result.ok, result.summary()
    assert server.last_request.max_tokens == CHECK_MAX_TOKENS


@pytest.mark.django_db
def test_check_asks_only_the_provider_once_even_with_retries(openai_server):
    config = ProviderConfig.objects.create(
        name="Flaky",
        model=MODELS["openai"],
        api_base=openai_server.url,
        api_key=API_KEY,
        max_retries=3,
    )
    openai_server.enqueue(Reply.error(503))
    result = check_provider(config)
    assert (result.ok, result.error_code) == (False, "unavailable")
    assert len(openai_server.requests) == 1


# --- make_default under concurrency -------------------------------------------------------


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("with_a_default", [False, True], ids=["no-default-yet", "a-default"])
def test_concurrent_make_default_leaves_exactly_one_default(
    postgres_db, run_together, with_a_default
):
    for round_number in range(ROUNDS):
        ProviderConfig.objects.all().delete()
        if with_a_default:
            ProviderConfig.objects.create(name="Old", model=MODELS["openai"], is_default=True)
        targets = [
            ProviderConfig.objects.create(
                name=f"Candidate {index}", model=MODELS["openai"], enabled=False
            )
            for index in range(THREADS)
        ]
        errors = run_together(
            lambda index, targets=targets: make_default(
                ProviderConfig.objects.get(pk=targets[index].pk)
            )
        )
        assert errors == [], f"round {round_number}: {errors!r}"
        defaults = list(ProviderConfig.objects.filter(is_default=True))
        assert len(defaults) == 1, f"round {round_number}: {defaults!r}"
        assert defaults[0].pk in {target.pk for target in targets}
        assert defaults[0].enabled
