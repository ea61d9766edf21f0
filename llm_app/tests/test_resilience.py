"""Fallbacks, retries and timeouts of the seam, against the fake provider servers.

Each test builds a chain of :class:`ResolvedProvider` objects pointing at local fakes (or
``ProviderConfig`` rows, for the database side) and checks what the learner would get, which
provider answered, how many calls were made, which server saw them and which pauses the seam
asked for. Pauses go through a :class:`SkippingClock`, so they are asserted, never waited out;
timeouts are real ``asyncio`` deadlines, and the tests check what they led to, not how long.
"""

from __future__ import annotations

import asyncio
import json
from dataclasses import replace
from typing import Any

import pytest
from django.urls import reverse

from llm_app.events import TERMINAL_EVENTS, ErrorCode, EventType
from llm_app.llm import stream_chat
from llm_app.models import ProviderConfig, ProviderFallback
from llm_app.providers import ResolvedProvider, aresolve_provider, resolve_provider
from llm_app.seam import clock as seam_clock
from llm_app.seam.retries import MAX_RETRY_PAUSE_SECONDS, retry_pause
from llm_app.testing import FakeProviderServer, Reply
from llm_app.testing.clock import SkippingClock

MODELS = {
    "anthropic": "anthropic/claude-sonnet-4-20250514",
    "gemini": "gemini/gemini-2.5-flash",
    "openai": "openai/gpt-4o-mini",
}
LEARNER = [{"role": "user", "content": "What is a fraction?"}]
SYSTEM = "You are a patient tutor."
# Unlike production's DEFAULT_RETRY_BACKOFF_SECONDS, so a pause of the default is noticed.
BACKOFF = 0.05


@pytest.fixture(autouse=True)
def clock(monkeypatch: pytest.MonkeyPatch) -> SkippingClock:
    """The seam's clock for these tests: it records each pause between retries and skips it."""
    skipping = SkippingClock()
    monkeypatch.setattr(seam_clock, "current", skipping)
    return skipping


def provider_for(server: FakeProviderServer, **changes: Any) -> ResolvedProvider:
    fields: dict[str, Any] = {
        "model": MODELS[server.kind],
        "name": f"fake {server.kind}",
        "api_base": server.url,
        "api_key": f"key-{server.kind}-{server.port}",
        "timeout_seconds": 10,
        "retry_backoff_seconds": BACKOFF,
    }
    fields.update(changes)
    return ResolvedProvider(**fields)


async def run(provider: ResolvedProvider) -> list[dict]:
    return [event async for event in stream_chat(LEARNER, SYSTEM, provider=provider)]


def types(events: list[dict]) -> list[str]:
    return [event["type"] for event in events]


def text(events: list[dict]) -> str:
    return "".join(event["content"] for event in events if event["type"] == EventType.TEXT)


def usage(events: list[dict]) -> dict:
    (event,) = [event for event in events if event["type"] == EventType.USAGE]
    return event


def terminals(events: list[dict]) -> list[dict]:
    return [event for event in events if event["type"] in TERMINAL_EVENTS]


# --- before the first token: retry, then fall back ---------------------------------------------


async def test_overloaded_primary_hands_the_turn_to_the_fallback(
    anthropic_server: FakeProviderServer, gemini_server: FakeProviderServer
) -> None:
    anthropic_server.enqueue(Reply.error(529))
    gemini_server.enqueue(Reply.text("A part of a whole.", chunks=2))
    fallback = provider_for(gemini_server, config_id=2)
    primary = provider_for(anthropic_server, max_retries=0, fallbacks=(fallback,), config_id=1)

    events = await run(primary)

    assert types(events) == ["text", "text", "usage", "done"]
    assert text(events) == "A part of a whole."
    answered = usage(events)
    assert answered["provider"] == "fake gemini"
    # The answering provider by identity, not by a label that two providers could share.
    assert answered["provider_id"] == 2
    assert answered["model"] == MODELS["gemini"]
    assert answered["attempts"] == 2
    assert len(anthropic_server.requests) == 1
    assert len(gemini_server.requests) == 1


async def test_retries_back_off_on_the_same_server_before_falling_back(
    anthropic_server: FakeProviderServer, openai_server: FakeProviderServer, clock: SkippingClock
) -> None:
    anthropic_server.enqueue(Reply.error(529), Reply.error(503), Reply.error(500))
    openai_server.enqueue(Reply.text("Fallback here."))
    primary = provider_for(
        anthropic_server, max_retries=2, fallbacks=(provider_for(openai_server),)
    )

    events = await run(primary)

    assert text(events) == "Fallback here."
    assert usage(events)["attempts"] == 4
    assert usage(events)["provider"] == "fake openai"
    assert len(anthropic_server.requests) == 3  # max_retries + 1
    # Exponential backoff between the primary's calls, none before the fallback.
    assert clock.pauses == [BACKOFF, 2 * BACKOFF]
    assert len(openai_server.requests) == 1


async def test_a_retry_that_succeeds_never_reaches_the_fallback(
    anthropic_server: FakeProviderServer, gemini_server: FakeProviderServer, clock: SkippingClock
) -> None:
    anthropic_server.enqueue(Reply.error(529), Reply.text("Second try."))
    primary = provider_for(
        anthropic_server, max_retries=1, fallbacks=(provider_for(gemini_server),)
    )

    events = await run(primary)

    assert text(events) == "Second try."
    assert usage(events)["provider"] == "fake anthropic"
    assert usage(events)["attempts"] == 2
    assert clock.pauses == [BACKOFF]
    assert gemini_server.requests == []


async def test_retry_after_from_the_provider_is_honoured(
    anthropic_server: FakeProviderServer, clock: SkippingClock
) -> None:
    # The fake's 429 carries Retry-After: 1, far longer than the configured backoff.
    anthropic_server.enqueue(Reply.error(429), Reply.text("Thanks for waiting."))

    events = await run(provider_for(anthropic_server, max_retries=1))

    assert text(events) == "Thanks for waiting."
    assert len(anthropic_server.requests) == 2
    assert clock.pauses == [1.0]
    # The learner waited that pause too: it counts in the turn's time.
    assert usage(events)["total_time_ms"] >= 1000


def test_a_provider_asking_for_a_long_pause_is_not_retried() -> None:
    provider = ResolvedProvider(model="openai/x", retry_backoff_seconds=0.5)
    assert retry_pause(provider, 0, None) == 0.5
    assert retry_pause(provider, 2, None) == 2.0
    assert retry_pause(provider, 0, 3.0) == 3.0
    assert retry_pause(provider, 10, None) == MAX_RETRY_PAUSE_SECONDS
    assert retry_pause(provider, 0, MAX_RETRY_PAUSE_SECONDS + 1) is None


@pytest.mark.parametrize(("status", "code"), [(401, "auth"), (400, "bad_request")])
async def test_refused_requests_are_not_retried_but_do_fall_back(
    anthropic_server: FakeProviderServer,
    gemini_server: FakeProviderServer,
    clock: SkippingClock,
    status: int,
    code: str,
) -> None:
    anthropic_server.enqueue(Reply.error(status))
    gemini_server.enqueue(Reply.text("The fallback has its own key."))
    primary = provider_for(
        anthropic_server, max_retries=3, fallbacks=(provider_for(gemini_server),)
    )

    events = await run(primary)

    assert len(anthropic_server.requests) == 1, f"{code} must not be retried"
    assert clock.pauses == []
    assert text(events) == "The fallback has its own key."
    assert usage(events)["attempts"] == 2


async def test_an_auth_error_with_no_fallback_is_one_error_after_one_call(
    anthropic_server: FakeProviderServer,
) -> None:
    anthropic_server.enqueue(Reply.error(401))

    events = await run(provider_for(anthropic_server, max_retries=3))

    assert types(events) == ["usage", "error"]
    assert events[-1]["code"] == ErrorCode.AUTH
    assert len(anthropic_server.requests) == 1


async def test_an_empty_reply_moves_on_to_the_fallback(
    openai_server: FakeProviderServer, gemini_server: FakeProviderServer
) -> None:
    openai_server.enqueue(Reply.empty())
    gemini_server.enqueue(Reply.text("Something to say."))

    events = await run(provider_for(openai_server, fallbacks=(provider_for(gemini_server),)))

    assert text(events) == "Something to say."
    assert usage(events)["attempts"] == 2


# --- timeouts -----------------------------------------------------------------------------------


async def test_slow_first_token_times_out_and_the_fallback_answers_quickly(
    anthropic_server: FakeProviderServer, openai_server: FakeProviderServer
) -> None:
    # The stream's framing arrives at once; only the first token is late, so LiteLLM's own
    # (read) timeout of 10 s never fires: the first-token timeout has to.
    anthropic_server.enqueue(Reply.text("Far too late.", first_token_delay=3))
    openai_server.enqueue(Reply.text("Quick answer."))
    primary = provider_for(
        anthropic_server,
        first_token_timeout_seconds=0.5,
        fallbacks=(provider_for(openai_server),),
    )

    events = await run(primary)

    # Without the first-token timeout the primary would have answered "Far too late." at 3 s.
    assert text(events) == "Quick answer."
    answered = usage(events)
    assert answered["provider"] == "fake openai"
    assert answered["attempts"] == 2
    # Timed from the start of the turn: the learner waited for the primary too.
    assert answered["time_to_first_token_ms"] >= 500
    # The slow call was hung up on, not left streaming into the void.
    abandoned = await asyncio.to_thread(anthropic_server.wait_for_disconnect, 3.0)
    assert abandoned.chunks_sent == 0


async def test_slow_first_token_without_a_fallback_is_a_timeout_error(
    gemini_server: FakeProviderServer,
) -> None:
    gemini_server.enqueue(Reply.text("Too late.", first_token_delay=3))

    events = await run(provider_for(gemini_server, first_token_timeout_seconds=0.4))

    assert types(events) == ["usage", "error"]
    assert events[-1]["code"] == ErrorCode.TIMEOUT
    assert events[-1]["retryable"] is True


async def test_connect_timeout_bounds_the_wait_for_the_response_to_start(
    anthropic_server: FakeProviderServer, gemini_server: FakeProviderServer
) -> None:
    anthropic_server.enqueue(Reply.text("Never sent.", response_delay=3))
    gemini_server.enqueue(Reply.text("Here I am."))
    primary = provider_for(
        anthropic_server,
        connect_timeout_seconds=0.3,
        first_token_timeout_seconds=5,
        fallbacks=(provider_for(gemini_server),),
    )

    events = await run(primary)

    assert text(events) == "Here I am."
    assert usage(events)["attempts"] == 2
    # The primary was hung up on before it sent anything.
    abandoned = await asyncio.to_thread(anthropic_server.wait_for_disconnect, 3.0)
    assert abandoned.chunks_sent == 0


async def test_total_timeout_bounds_the_whole_reply_not_each_read(
    openai_server: FakeProviderServer, gemini_server: FakeProviderServer
) -> None:
    # Each chunk comes well within the timeout, but the whole reply would take 3 s.
    openai_server.enqueue(Reply.text("one two three four five six", chunks=6, chunk_delay=0.5))
    primary = provider_for(
        openai_server, timeout_seconds=1.2, fallbacks=(provider_for(gemini_server),)
    )

    events = await run(primary)

    assert types(events)[-1] == "error"
    assert events[-1]["code"] == ErrorCode.TIMEOUT
    assert 0 < len(text(events)) < len("one two three four five six")
    assert gemini_server.requests == [], "text was already sent: no fallback"


# --- after the first token: one error, never a spliced reply -----------------------------------


async def test_failure_after_the_first_token_ends_the_turn_without_the_fallback(
    anthropic_server: FakeProviderServer, gemini_server: FakeProviderServer
) -> None:
    anthropic_server.enqueue(Reply.cut_after(2, "alpha beta gamma delta", chunks=4))
    gemini_server.enqueue(Reply.text("FALLBACK TEXT"))
    primary = provider_for(
        anthropic_server, max_retries=2, fallbacks=(provider_for(gemini_server),)
    )

    events = await run(primary)

    assert types(events) == ["text", "text", "usage", "error"]
    assert text(events) == "alpha beta "
    assert [event["type"] for event in terminals(events)] == ["error"]
    assert events[-1]["code"] == ErrorCode.UNAVAILABLE
    assert "FALLBACK" not in json.dumps(events)
    assert gemini_server.requests == []
    assert len(anthropic_server.requests) == 1, "nothing is retried once text was sent"


async def test_whole_chain_down_is_one_clear_error(
    anthropic_server: FakeProviderServer,
    gemini_server: FakeProviderServer,
    openai_server: FakeProviderServer,
    caplog: pytest.LogCaptureFixture,
) -> None:
    anthropic_server.enqueue(Reply.error(529))
    gemini_server.enqueue(Reply.error(503))
    openai_server.enqueue(Reply.error(500, message="upstream exploded"))
    chain = (provider_for(gemini_server), provider_for(openai_server))
    primary = provider_for(anthropic_server, fallbacks=chain)

    with caplog.at_level("INFO"):
        events = await run(primary)

    assert types(events) == ["usage", "error"]
    assert events[-1]["code"] == ErrorCode.UNAVAILABLE
    assert events[-1]["retryable"] is True
    assert "exploded" not in events[-1]["message"]
    assert [len(s.requests) for s in (anthropic_server, gemini_server, openai_server)] == [1, 1, 1]
    # Staff can follow the chain in the log, and no key of any provider is in it.
    assert "next=fallback to fake gemini" in caplog.text
    assert "next=fallback to fake openai" in caplog.text
    assert "next=give up" in caplog.text
    for provider in (primary, *chain):
        assert provider.api_key not in caplog.text


async def test_a_first_time_answer_reports_one_attempt(
    gemini_server: FakeProviderServer, openai_server: FakeProviderServer
) -> None:
    events = await run(provider_for(gemini_server, fallbacks=(provider_for(openai_server),)))

    assert usage(events)["attempts"] == 1
    assert usage(events)["provider"] == "fake gemini"
    assert openai_server.requests == []


# --- the chain from the database ----------------------------------------------------------------


def make_provider(name: str, server: FakeProviderServer | None = None, **fields: Any):
    if server is not None:
        fields.setdefault("model", MODELS[server.kind])
        fields.setdefault("api_base", server.url)
    fields.setdefault("model", MODELS["openai"])
    return ProviderConfig.objects.create(name=name, api_key=f"key-{name}", **fields)


@pytest.mark.django_db
def test_from_config_orders_the_chain_and_skips_disabled_and_nested_fallbacks() -> None:
    primary = make_provider("Primary", max_retries=2, first_token_timeout_seconds=4)
    second = make_provider("Second")
    first = make_provider("First")
    off = make_provider("Off", enabled=False)
    ProviderFallback.objects.create(provider=primary, fallback=second, position=2)
    ProviderFallback.objects.create(provider=primary, fallback=first, position=1)
    ProviderFallback.objects.create(provider=primary, fallback=off, position=0)
    # Second's own chain (here back to Primary: a cycle) is not followed.
    ProviderFallback.objects.create(provider=second, fallback=primary, position=0)
    ProviderFallback.objects.create(provider=second, fallback=first, position=1)

    resolved = ResolvedProvider.from_config(primary)

    assert [p.name for p in resolved.chain] == ["Primary", "First", "Second"]
    assert all(fallback.fallbacks == () for fallback in resolved.fallbacks)
    assert resolved.max_retries == 2
    assert resolved.first_token_timeout_seconds == 4
    assert resolved.fallbacks[0].api_key == "key-First"
    assert "key-First" not in repr(resolved)
    from_second = ResolvedProvider.from_config(second)
    assert [p.name for p in from_second.chain] == ["Second", "Primary", "First"]


@pytest.mark.django_db
def test_an_unsaved_config_resolves_without_touching_the_database() -> None:
    resolved = ResolvedProvider.from_config(ProviderConfig(name="New", model=MODELS["openai"]))
    assert resolved.fallbacks == ()
    assert resolved.max_retries == 1  # the model's default


@pytest.mark.django_db(transaction=True)
async def test_the_default_providers_chain_answers_a_turn(
    anthropic_server: FakeProviderServer, gemini_server: FakeProviderServer
) -> None:
    def configure() -> None:
        primary = make_provider("Claude", anthropic_server, max_retries=0, is_default=True)
        fallback = make_provider("Gemini", gemini_server)
        ProviderFallback.objects.create(provider=primary, fallback=fallback)

    from channels.db import database_sync_to_async

    await database_sync_to_async(configure)()
    anthropic_server.enqueue(Reply.error(529))
    gemini_server.enqueue(Reply.text("From the fallback row."))

    resolved = await aresolve_provider()
    events = await run(replace(resolved, retry_backoff_seconds=BACKOFF))

    assert text(events) == "From the fallback row."
    assert usage(events)["provider"] == "Gemini"
    assert gemini_server.last_request.api_key == "key-Gemini"


# --- the admin ----------------------------------------------------------------------------------


def inline_data(provider: ProviderConfig, links: list[tuple[ProviderConfig, int]]) -> dict:
    data = {
        "name": provider.name,
        "model": provider.model,
        "api_base": "",
        "api_key": "",
        "max_tokens": 1024,
        "temperature": "",
        "timeout_seconds": 60,
        "connect_timeout_seconds": 5,
        "first_token_timeout_seconds": 20,
        "max_retries": 2,
        "input_cost_per_million_tokens": "",
        "output_cost_per_million_tokens": "",
        "daily_budget_usd": "",
        "extra_params": "{}",
        "enabled": "on",
        "fallback_links-TOTAL_FORMS": str(len(links)),
        "fallback_links-INITIAL_FORMS": "0",
        "fallback_links-MIN_NUM_FORMS": "0",
        "fallback_links-MAX_NUM_FORMS": "1000",
    }
    for index, (fallback, position) in enumerate(links):
        data[f"fallback_links-{index}-fallback"] = str(fallback.pk)
        data[f"fallback_links-{index}-position"] = str(position)
        data[f"fallback_links-{index}-provider"] = str(provider.pk)
    return data


@pytest.mark.django_db
def test_admin_saves_the_ordered_chain_and_lists_it(admin_client) -> None:
    primary = make_provider("Primary")
    second = make_provider("Second")
    first = make_provider("First", enabled=False)
    url = reverse("admin:llm_app_providerconfig_change", args=[primary.pk])

    page = admin_client.get(url).content.decode()
    assert "fallbacks, in the order they are tried" in page.lower()
    assert "Fallbacks, retries and timeouts" in page
    add_page = admin_client.get(reverse("admin:llm_app_providerconfig_add"))
    assert add_page.status_code == 200
    assert "fallback_links-TOTAL_FORMS" in add_page.content.decode()

    response = admin_client.post(url, inline_data(primary, [(second, 2), (first, 1)]))

    assert response.status_code == 302, response.content.decode()[:2000]
    primary.refresh_from_db()
    assert (primary.connect_timeout_seconds, primary.max_retries) == (5, 2)
    assert [link.fallback.name for link in primary.fallback_links.all()] == ["First", "Second"]
    assert [p.name for p in resolve_provider("Primary").chain] == ["Primary", "Second"]
    changelist = admin_client.get(reverse("admin:llm_app_providerconfig_changelist"))
    assert "First (disabled) → Second" in changelist.content.decode()


@pytest.mark.django_db
def test_admin_refuses_a_provider_as_its_own_fallback(admin_client) -> None:
    primary = make_provider("Primary")
    url = reverse("admin:llm_app_providerconfig_change", args=[primary.pk])

    response = admin_client.post(url, inline_data(primary, [(primary, 1)]))

    assert response.status_code == 200
    assert not ProviderFallback.objects.exists()


@pytest.mark.django_db
def test_admin_keeps_defaults_when_the_new_fields_are_left_empty(admin_client) -> None:
    primary = make_provider("Primary", max_retries=3)
    url = reverse("admin:llm_app_providerconfig_change", args=[primary.pk])
    data = inline_data(primary, [])
    data.update(connect_timeout_seconds="", first_token_timeout_seconds="", max_retries="")

    response = admin_client.post(url, data)

    assert response.status_code == 302
    primary.refresh_from_db()
    assert primary.max_retries == 3
    assert primary.first_token_timeout_seconds == 30


@pytest.mark.django_db
def test_admin_refuses_a_first_token_timeout_longer_than_the_total(admin_client) -> None:
    primary = make_provider("Primary")
    url = reverse("admin:llm_app_providerconfig_change", args=[primary.pk])
    data = inline_data(primary, [])
    data.update(timeout_seconds=10, first_token_timeout_seconds=20)

    response = admin_client.post(url, data)

    assert response.status_code == 200
    assert "longer than the whole reply" in response.content.decode()
