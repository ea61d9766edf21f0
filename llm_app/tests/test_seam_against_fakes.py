"""`llm_app.llm.stream_chat` against the fake providers: real LiteLLM, real wire formats.

test_llm_seam_behaviour.py pins the event contract with stubbed chunks; these tests check that
the same contract holds when LiteLLM really parses each provider's stream and maps its errors.
"""

from __future__ import annotations

import asyncio
import json
from contextlib import aclosing
from typing import Any

import pytest

from llm_app.events import ErrorCode, EventType
from llm_app.llm import stream_chat
from llm_app.providers import ResolvedProvider
from llm_app.testing import FakeProviderServer, Reply

MODELS = {
    "anthropic": "anthropic/claude-sonnet-4-20250514",
    "gemini": "gemini/gemini-2.5-flash",
    "openai": "openai/gpt-4o-mini",
}
API_KEY = "test-key-seam-5678"
SYSTEM = "You are a patient tutor for the lesson on fractions."
TOOLS = [
    {
        "type": "function",
        "function": {
            "name": "transition_to_next",
            "description": "Move the learner on.",
            "parameters": {"type": "object", "properties": {}},
        },
    }
]
LEARNER = [{"role": "user", "content": "Is 2/4 the same as 1/2?"}]


@pytest.fixture(params=sorted(MODELS))
def server(request: pytest.FixtureRequest) -> FakeProviderServer:
    return request.getfixturevalue(f"{request.param}_server")


def provider_for(server: FakeProviderServer, **changes: Any) -> ResolvedProvider:
    fields: dict[str, Any] = {
        "model": MODELS[server.kind],
        "name": f"fake {server.kind}",
        "api_base": server.url,
        "api_key": API_KEY,
    }
    fields.update(changes)
    return ResolvedProvider(**fields)


async def run(server: FakeProviderServer, messages=LEARNER, **kwargs: Any) -> list[dict]:
    provider = kwargs.pop("provider", None) or provider_for(server)
    return [event async for event in stream_chat(messages, SYSTEM, provider=provider, **kwargs)]


def types(events: list[dict]) -> list[str]:
    return [event["type"] for event in events]


def text(events: list[dict]) -> str:
    return "".join(event["content"] for event in events if event["type"] == EventType.TEXT)


async def test_text_reply_becomes_text_usage_done(server: FakeProviderServer) -> None:
    reply = Reply.text("Yes: both are one half.", chunks=3, input_tokens=40)
    server.enqueue(reply)

    events = await run(server, max_tokens=300)

    assert types(events) == ["text", "text", "text", "usage", "done"]
    assert text(events) == "Yes: both are one half."
    usage = events[-2]
    assert usage["input_tokens"] == 40
    assert usage["output_tokens"] == reply.completion_tokens()
    assert usage["provider"] == f"fake {server.kind}"
    call = server.last_request
    assert call.system == SYSTEM
    assert call.max_tokens == 300
    assert call.api_key == API_KEY
    assert "tools" not in call.json


async def test_tool_call_is_reported_once_by_name(server: FakeProviderServer) -> None:
    server.enqueue(Reply.tool_call("transition_to_next", "{}", text="Great.", chunks=1))

    events = await run(server, tools=TOOLS)

    assert types(events) == ["text", "tool_use", "usage", "done"]
    # No arguments: exactly the event the original plan's seam reported.
    assert events[1] == {"type": "tool_use", "name": "transition_to_next"}
    assert server.last_request.tool_names == ["transition_to_next"]


async def test_tool_call_is_reported_with_its_parsed_arguments(server: FakeProviderServer) -> None:
    arguments = {"objective_id": 12, "evidence": 'Said "the numerators add"; 1/4+1/4=1/2.'}
    server.enqueue(
        Reply.tool_call("record_objective_met", arguments, fragments=5, text="Well done.", chunks=2)
    )

    events = await run(server, tools=TOOLS)

    assert types(events) == ["text", "text", "tool_use", "usage", "done"]
    assert events[2] == {
        "type": "tool_use",
        "name": "record_objective_met",
        "arguments": arguments,
    }


@pytest.mark.parametrize("kind", ["anthropic", "openai"])
async def test_tool_call_cut_before_its_arguments_end_is_never_reported(
    kind: str, request: pytest.FixtureRequest
) -> None:
    # Gemini sends a function call whole; these two stream the arguments in fragments.
    server = request.getfixturevalue(f"{kind}_server")
    # Content chunks: the text, the chunk naming the tool, then two of four argument fragments.
    server.enqueue(
        Reply.tool_call(
            "transition_to_next",
            '{"why": "the learner is ready"}',
            fragments=4,
            text="Great.",
            chunks=1,
            cut_at=3,
        )
    )

    events = await run(server, tools=TOOLS)

    assert types(events) == ["text", "usage", "error"]
    assert events[-1]["code"] == ErrorCode.UNAVAILABLE
    assert server.last_request.chunks_sent == 3


async def test_admin_provider_settings_reach_the_wire(server: FakeProviderServer) -> None:
    provider = provider_for(server, max_tokens=77, temperature=0.25)

    await run(server, provider=provider)

    call = server.last_request
    assert call.max_tokens == 77
    sent_temperature = (
        call.json["generationConfig"]["temperature"]
        if server.kind == "gemini"
        else call.json["temperature"]
    )
    assert sent_temperature == 0.25


@pytest.mark.parametrize(
    ("status", "code"),
    [
        (401, ErrorCode.AUTH),
        (403, ErrorCode.AUTH),
        (400, ErrorCode.BAD_REQUEST),
        (429, ErrorCode.RATE_LIMITED),
        (500, ErrorCode.UNAVAILABLE),
        (503, ErrorCode.UNAVAILABLE),
        (529, ErrorCode.UNAVAILABLE),
    ],
)
async def test_http_errors_become_one_safe_error(
    server: FakeProviderServer, status: int, code: ErrorCode
) -> None:
    server.enqueue(Reply.error(status))

    events = await run(server)

    assert types(events) == ["usage", "error"]
    assert events[-1]["code"] == code
    assert len(server.requests) == 1, "the seam must not retry on its own"
    assert API_KEY not in json.dumps(events)


async def test_cut_stream_keeps_partial_text_then_errors(server: FakeProviderServer) -> None:
    server.enqueue(Reply.cut_after(2, "one two three four", chunks=4))

    events = await run(server)

    assert types(events) == ["text", "text", "usage", "error"]
    assert text(events) == "one two "
    assert events[-1]["code"] == ErrorCode.UNAVAILABLE
    assert events[-1]["retryable"] is True


async def test_empty_stream_is_an_empty_response(server: FakeProviderServer) -> None:
    server.enqueue(Reply.empty())

    events = await run(server)

    assert types(events) == ["usage", "error"]
    assert events[-1]["code"] == ErrorCode.EMPTY_RESPONSE


async def test_slow_first_token_beyond_the_timeout_is_a_timeout(
    server: FakeProviderServer,
) -> None:
    server.enqueue(Reply.text("too late", first_token_delay=1.5))

    events = await run(server, provider=provider_for(server, timeout_seconds=0.3))

    assert types(events) == ["usage", "error"]
    assert events[-1]["code"] == ErrorCode.TIMEOUT


async def test_closing_the_event_stream_hangs_up_on_the_provider(
    server: FakeProviderServer,
) -> None:
    server.enqueue(Reply.text("a b c d e f g h", chunks=8, chunk_delay=0.2))
    received = []

    async with aclosing(stream_chat(LEARNER, SYSTEM, provider=provider_for(server))) as events:
        async for event in events:
            received.append(event)
            if len(received) == 2:
                break

    call = await asyncio.to_thread(server.wait_for_disconnect, 3.0)
    assert text(received) == "a b "
    assert call.chunks_sent < 8 and not call.completed


async def test_conversation_opening_with_the_tutor_is_refused(
    server: FakeProviderServer,
) -> None:
    """A stage's opening_message cannot lead the history sent to a provider."""
    history = [
        {"role": "assistant", "content": "Welcome! What do you know about fractions?"},
        {"role": "user", "content": "Not much."},
    ]

    events = await run(server, messages=history)

    assert types(events) == ["usage", "error"]
    assert events[-1]["code"] == ErrorCode.BAD_REQUEST
    assert server.last_request.status == 400


@pytest.mark.parametrize("status", [400, 401, 429, 500])
async def test_the_key_never_reaches_events_or_logs(
    server: FakeProviderServer, status: int, caplog: pytest.LogCaptureFixture
) -> None:
    server.enqueue(Reply.text("fine"))
    server.enqueue(Reply.error(status, message=f"rejected key {API_KEY}"))

    with caplog.at_level("DEBUG"):
        events = await run(server) + await run(server)

    assert server.requests[0].api_key == API_KEY  # it was sent...
    assert types(events)[-1] == "error"
    assert API_KEY not in json.dumps(events)  # ...but never shown
    assert API_KEY not in caplog.text  # ...nor logged, even when the provider echoes it
    assert "LLM call failed" in caplog.text
