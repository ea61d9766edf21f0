"""llm_app.moderation: LiteLLM's moderation API against the fake OpenAI moderations endpoint."""

from __future__ import annotations

import json
import logging
import urllib.error
import urllib.request

import pytest

from llm_app.moderation import MODERATION_MODEL, ModerationResult, has_moderation, moderate
from llm_app.providers import ResolvedProvider
from llm_app.testing import FakeOpenAIServer


def provider_at(server: FakeOpenAIServer, key: str = "sk-test-moderation") -> ResolvedProvider:
    return ResolvedProvider(model="openai/gpt-4o-mini", api_base=server.url, api_key=key)


async def test_a_flagged_text_names_its_categories(openai_server):
    openai_server.flag("idiot", "harassment").flag("hurt you", "violence")
    result = await moderate("You idiot, I will hurt you", provider_at(openai_server))
    assert result == ModerationResult(flagged=True, categories=("harassment", "violence"))
    (call,) = openai_server.requests
    assert (call.method, call.path, call.api_key) == (
        "POST",
        "/v1/moderations",
        "sk-test-moderation",
    )
    assert call.json == {"input": "You idiot, I will hurt you", "model": MODERATION_MODEL}


async def test_a_clean_text_is_not_flagged(openai_server):
    openai_server.flag("idiot")
    assert await moderate("Leaves are green", provider_at(openai_server)) == ModerationResult(
        flagged=False
    )


async def test_providers_without_moderation_are_not_asked(openai_server):
    anthropic = ResolvedProvider(model="anthropic/claude-sonnet-4-20250514", api_base="x")
    assert not has_moderation(anthropic)
    assert await moderate("You idiot", anthropic) is None
    assert await moderate("   ", provider_at(openai_server)) is None
    assert openai_server.requests == []


async def test_a_failing_endpoint_is_logged_without_the_key_and_gives_none(caplog):
    with (
        FakeOpenAIServer(required_key="sk-the-right-one") as server,
        caplog.at_level(logging.WARNING, logger="llm_app.moderation"),
    ):
        result = await moderate("hello", provider_at(server, key="sk-wrong-key-123456"))
    assert result is None
    assert "Moderation failed: provider=openai/gpt-4o-mini error=AuthenticationError" in caplog.text
    assert "sk-wrong" not in caplog.text


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"input": "hi", "model": MODERATION_MODEL, "user": "u1"}, "Unrecognized request argument"),
        ({"model": MODERATION_MODEL}, "Invalid 'input'"),
        ({"input": [1, 2]}, "Invalid 'input'"),
        ({"input": "hi", "model": 3}, "Invalid 'model'"),
    ],
)
def test_the_fake_endpoint_is_strict_about_the_request(openai_server, body, message):
    request = urllib.request.Request(  # noqa: S310 - the local fake
        f"{openai_server.url}/moderations",
        data=json.dumps(body).encode(),
        headers={"Authorization": "Bearer sk-x", "Content-Type": "application/json"},
    )
    with pytest.raises(urllib.error.HTTPError) as error:
        urllib.request.urlopen(request, timeout=5)  # noqa: S310
    assert error.value.code == 400
    assert message in json.loads(error.value.read())["error"]["message"]
