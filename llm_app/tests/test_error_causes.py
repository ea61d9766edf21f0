"""Errors that name their cause: configuration, context overflow, errors inside a 200 stream.

Each goes through real LiteLLM against a local server; the seam's code decides whether the
call is retried and what the learner reads, and ``on_failure`` gives staff the real cause.
"""

from __future__ import annotations

import json

import pytest

from llm_app.events import ErrorCode
from llm_app.llm import stream_chat
from llm_app.providers import ResolvedProvider
from llm_app.seam.diagnosis import NO_API_KEY, FailureReport
from llm_app.testing import Reply
from llm_app.testing.clock import SkippingClock
from llm_app.testing.replay import Recording, ReplayServer

KEY = "sk-cause-0123456789abcdef"
LEARNER = [{"role": "user", "content": "Hello"}]


@pytest.fixture(autouse=True)
def skipping_clock(monkeypatch) -> SkippingClock:
    clock = SkippingClock()
    monkeypatch.setattr("llm_app.seam.clock.current", clock)
    return clock


async def run(provider: ResolvedProvider) -> tuple[list[dict], list[FailureReport]]:
    reports: list[FailureReport] = []
    events = [
        event
        async for event in stream_chat(LEARNER, "S", provider=provider, on_failure=reports.append)
    ]
    return events, reports


def in_stream(payload: dict, model: str = "hosted_vllm/local") -> Recording:
    """A 200 stream whose only event is an error, as llama.cpp's and vLLM's servers send."""
    body = f"data: {json.dumps(payload)}\n\n".encode()
    return Recording(name="in-stream", provider="openai", model=model, body_format="sse", body=body)


async def test_a_missing_key_is_a_configuration_error_never_retried(openai_server, monkeypatch):
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    provider = ResolvedProvider(model="openai/local", api_base=openai_server.url, max_retries=2)

    events, reports = await run(provider)

    assert events[-1]["code"] == ErrorCode.CONFIGURATION
    assert events[-1]["retryable"] is False
    assert events[-2]["attempts"] == 1
    assert [report.describe() for report in reports] == [f"InternalServerError: {NO_API_KEY}"]
    assert openai_server.requests == []


async def test_a_wrong_api_base_path_is_a_configuration_error(openai_server):
    provider = ResolvedProvider(
        model="hosted_vllm/local",
        api_base=openai_server.root_url + "/nope",
        api_key=KEY,
        max_retries=2,
    )

    events, reports = await run(provider)

    assert events[-1]["code"] == ErrorCode.CONFIGURATION
    assert "rephrase" not in events[-1]["message"]
    assert len(openai_server.requests) == 1
    (report,) = reports
    assert report.status == 404 and report.error_type == "NotFoundError"
    assert report.message == "Invalid URL (POST /nope/chat/completions)"


@pytest.mark.parametrize(
    "payload",
    [
        # llama.cpp's server (llama-server) for a prompt longer than its context.
        {
            "error": {
                "code": 400,
                "message": "the request exceeds the available context size, try increasing it",
                "type": "exceed_context_size_error",
                "n_prompt_tokens": 2300,
                "n_ctx": 2048,
            }
        },
        # OpenAI-compatible servers (vLLM, proxies) with OpenAI's own code.
        {
            "error": {
                "message": "This model's maximum context length is 2048 tokens.",
                "type": "invalid_request_error",
                "code": "context_length_exceeded",
            }
        },
    ],
)
async def test_a_context_overflow_inside_a_200_stream_has_its_own_code(payload):
    with ReplayServer("openai") as server:
        server.play(in_stream(payload), in_stream(payload))
        provider = ResolvedProvider(
            model="hosted_vllm/local", api_base=server.url, api_key=KEY, max_retries=1
        )
        events, reports = await run(provider)

    assert events[-1]["code"] == ErrorCode.CONTEXT_TOO_LONG
    assert events[-1]["retryable"] is False
    assert len(server.requests) == 1, "a context overflow is not retried"
    assert payload["error"]["message"] in reports[0].message


async def test_a_server_error_inside_a_200_stream_is_retried_as_unavailable():
    payload = {"error": {"message": "The server had an error", "type": "server_error"}}
    with ReplayServer("openai") as server:
        server.play(
            in_stream(payload, "openai/gpt-4o-mini"), in_stream(payload, "openai/gpt-4o-mini")
        )
        provider = ResolvedProvider(
            model="openai/gpt-4o-mini", api_base=server.url, api_key=KEY, max_retries=1
        )
        events, _ = await run(provider)

    assert events[-1]["code"] == ErrorCode.UNAVAILABLE
    assert len(server.requests) == 2


async def test_the_staff_cause_never_holds_the_key(openai_server):
    openai_server.enqueue(Reply.error(401, f"Incorrect API key provided: {KEY}"))
    provider = ResolvedProvider(model="openai/gpt-4o-mini", api_base=openai_server.url, api_key=KEY)

    events, (report,) = await run(provider)

    assert report.describe() == (
        "HTTP 401 AuthenticationError: Incorrect API key provided: [redacted]"
    )
    assert KEY not in json.dumps(events)


async def test_an_empty_200_to_a_prompt_that_fills_the_context_is_a_context_error(openai_server):
    # llama-cpp-python answers a prompt longer than --n_ctx with HTTP 200 and no events.
    openai_server.enqueue(Reply.empty(), Reply.empty())
    provider = ResolvedProvider(
        model="hosted_vllm/local",
        api_base=openai_server.url,
        api_key=KEY,
        context_window_tokens=512,
        max_tokens=64,
        max_retries=1,
    )
    long = [{"role": "user", "content": "word " * 2000}]

    events = [event async for event in stream_chat(long, "S", provider=provider)]

    assert events[-1]["code"] == ErrorCode.CONTEXT_TOO_LONG
    assert len(openai_server.requests) == 1, "not retried as an empty reply"
    # The same empty answer to a short prompt stays an empty reply (and is retried).
    events, _ = await run(provider)
    assert events[-1]["code"] == ErrorCode.EMPTY_RESPONSE
