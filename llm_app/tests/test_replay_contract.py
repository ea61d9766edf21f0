"""Contract tests: real provider responses, recorded by other projects, read through the seam.

Each recording in ``../shared/replay`` (provenance in its ``.meta.json``) is served byte for byte
at its provider's real path on 127.0.0.1 and read by LiteLLM's real parser through
``stream_chat``. What the learner gets is compared with what the provider sent, read from the
same bytes by ``llm_app.testing.replay.recorded_reply``: the text exactly, never the reasoning,
the tool calls whose arguments completed, the server's own token counts, one safe ending.
"""

from __future__ import annotations

import json

import pytest

from llm_app.events import SAFE_ERROR_MESSAGES, ErrorCode, EventType
from llm_app.llm import stream_chat
from llm_app.providers import ResolvedProvider
from llm_app.testing.replay import (
    Recording,
    ReplayServer,
    recorded_reply,
    recording_names,
    require_recordings,
)

API_KEY = "replay-key-0123456789"
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
# How the recordings that do not end in a whole reply end; every other one ends in `done`.
ERRORS = {
    "anthropic-error-after-ping": ErrorCode.UNAVAILABLE,
    "anthropic-http-400-invalid-request": ErrorCode.BAD_REQUEST,
    "anthropic-midstream-api-error-fragment": ErrorCode.UNAVAILABLE,
    "openai-http-400-unsupported-value": ErrorCode.BAD_REQUEST,
    "openai-midstream-server-error": ErrorCode.UNAVAILABLE,
    "openai-refusal": ErrorCode.REFUSED,
}
# Stopped by max_tokens inside a tool call's arguments: the call must not be reported.
TRUNCATED_TOOL_CALLS = {"anthropic-tool-truncated-max-tokens"}
# Recordings whose stream ends before the provider's usage arrives (an error, a fragment).
NO_USAGE = {
    "anthropic-error-after-ping",
    "anthropic-http-400-invalid-request",
    "anthropic-midstream-api-error-fragment",
    "openai-http-400-unsupported-value",
    "openai-midstream-server-error",
}
# Recordings with thinking / reasoning parts, which must never reach the learner.
REASONING = {
    "anthropic-clear-thinking",
    "anthropic-redacted-thinking",
    "anthropic-thinking",
    "gemini-thinking-parts",
}
MIN_THOUGHT_LENGTH = 30
RECORDINGS = recording_names()
# The 27 recordings of ../shared/replay/README.md: fewer means some went missing.
EXPECTED_RECORDINGS = 27


def test_every_recording_is_there() -> None:
    require_recordings()
    assert len(RECORDINGS) == EXPECTED_RECORDINGS, RECORDINGS
    assert set(ERRORS) | TRUNCATED_TOOL_CALLS | NO_USAGE | REASONING <= set(RECORDINGS)


async def replay(recording: Recording) -> tuple[list[dict], ReplayServer]:
    with ReplayServer(recording.provider) as server:
        server.play(recording)
        provider = ResolvedProvider(
            model=recording.model, name="replay", api_base=server.url, api_key=API_KEY
        )
        events = [
            event
            async for event in stream_chat(
                [{"role": "user", "content": "Hello"}], "You are a tutor.", TOOLS, provider
            )
        ]
    return events, server


@pytest.mark.parametrize("name", RECORDINGS or ["(none)"])
async def test_recording_through_the_seam(name: str) -> None:
    require_recordings()
    recording = Recording.load(name)
    recorded = recorded_reply(recording)

    events, server = await replay(recording)

    assert [call.path for call in server.requests] == [server.requests[0].path], "one call"
    kinds = [event["type"] for event in events]
    text = "".join(event["content"] for event in events if event["type"] == EventType.TEXT)
    assert text == recorded.text
    if name in REASONING:
        assert recorded.reasoning, "the recording's reasoning was not found"
    for thought in recorded.reasoning:
        # Short fragments ("÷ 5") may well recur in the answer; whole thoughts must not.
        if len(thought.strip()) >= MIN_THOUGHT_LENGTH:
            assert thought.strip() not in text, "reasoning reached the learner"
    assert "reasoning_content" not in json.dumps(events)
    tools = [event["name"] for event in events if event["type"] == EventType.TOOL_USE]
    assert tools == ([] if name in TRUNCATED_TOOL_CALLS else recorded.tool_names)
    # One usage event (kept for every reply, billed or failed), then one ending.
    assert kinds.count(EventType.USAGE) == 1 and kinds[-2] == EventType.USAGE
    usage = events[-2]
    assert usage["attempts"] == 1
    if name not in NO_USAGE:
        assert (usage["input_tokens"], usage["output_tokens"]) == (
            recorded.input_tokens,
            recorded.output_tokens,
        )
    ending = events[-1]
    if name in ERRORS:
        assert ending["type"] == EventType.ERROR
        assert ending["code"] == ERRORS[name]
        assert ending["message"] == SAFE_ERROR_MESSAGES[ERRORS[name]]
    else:
        assert ending == {"type": EventType.DONE}
    assert API_KEY not in json.dumps(events)


async def test_a_refusal_is_billed_and_named_not_empty() -> None:
    require_recordings()
    recording = Recording.load("openai-refusal")
    assert recorded_reply(recording).refusal.startswith("I'm sorry")

    events, _ = await replay(recording)

    usage, ending = events
    assert ending["code"] == ErrorCode.REFUSED and ending["retryable"] is False
    assert usage["output_tokens"] == 11 and usage["cost_usd"] > 0


def _chunk(delta: dict | None, finish: str | None = None, usage: dict | None = None) -> str:
    choices = [] if delta is None else [{"index": 0, "delta": delta, "finish_reason": finish}]
    payload: dict = {"id": "c", "object": "chat.completion.chunk", "created": 1, "model": "m"}
    payload["choices"] = choices
    if usage:
        payload["usage"] = usage
    return f"data: {json.dumps(payload)}\n\n"


SERVER_USAGE = {"prompt_tokens": 777, "completion_tokens": 55, "total_tokens": 832}
# Where OpenAI-compatible servers put their counts: on the finishing chunk (llama.cpp's
# llama-server), on every chunk (vLLM's continuous usage stats), or after (OpenAI's own).
USAGE_PLACEMENTS = {
    "on the finishing chunk": _chunk({"role": "assistant", "content": "Hi"})
    + _chunk({}, "stop", SERVER_USAGE),
    "on every chunk": _chunk(
        {"role": "assistant", "content": "Hi"}, usage={**SERVER_USAGE, "completion_tokens": 1}
    )
    + _chunk({}, "stop", SERVER_USAGE),
    "in a chunk of its own": _chunk({"role": "assistant", "content": "Hi"})
    + _chunk({}, "stop")
    + _chunk(None, usage=SERVER_USAGE),
}


@pytest.mark.parametrize("placement", sorted(USAGE_PLACEMENTS))
async def test_the_servers_token_counts_beat_litellms_estimate(placement: str) -> None:
    body = (USAGE_PLACEMENTS[placement] + "data: [DONE]\n\n").encode()
    recording = Recording(
        name=placement, provider="openai", model="hosted_vllm/local", body_format="sse", body=body
    )

    events, _ = await replay(recording)

    usage = events[-2]
    # LiteLLM's own estimate for this two-word exchange would be a handful of tokens.
    assert (usage["input_tokens"], usage["output_tokens"]) == (777, 55)
