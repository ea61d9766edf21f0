"""Unit tests of the seam's contract with ``acompletion`` mocked.

Behaviour against real provider wire formats is tested through the fake
servers in test_seam_against_fakes.py; here we pin down the event contract.
"""

from unittest.mock import AsyncMock, patch

import litellm
import pytest
from litellm.types.utils import (
    ChatCompletionDeltaToolCall,
    Delta,
    Function,
    ModelResponseStream,
    StreamingChoices,
    Usage,
)

from llm_app.events import TERMINAL_EVENTS, EventType
from llm_app.llm import DEFAULT_PROVIDER, stream_chat
from llm_app.providers import ResolvedProvider
from llm_app.seam.request import build_completion_kwargs

TOOLS = [
    {
        "type": "function",
        "function": {
            "name": "transition_to_next",
            "description": "Move on",
            "parameters": {"type": "object", "properties": {}, "required": []},
        },
    }
]


def text_chunk(text: str) -> ModelResponseStream:
    return ModelResponseStream(choices=[StreamingChoices(delta=Delta(content=text))])


def tool_chunk(index: int, name: str | None, arguments: str) -> ModelResponseStream:
    call = ChatCompletionDeltaToolCall(
        index=index,
        id="call_1" if name else None,
        function=Function(name=name, arguments=arguments),
    )
    return ModelResponseStream(choices=[StreamingChoices(delta=Delta(tool_calls=[call]))])


def finish_chunk(reason: str) -> ModelResponseStream:
    return ModelResponseStream(choices=[StreamingChoices(delta=Delta(), finish_reason=reason)])


def usage_chunk(prompt: int, completion: int) -> ModelResponseStream:
    chunk = ModelResponseStream(choices=[])
    chunk.usage = Usage(
        prompt_tokens=prompt, completion_tokens=completion, total_tokens=prompt + completion
    )
    return chunk


def streaming(*chunks):
    async def generate():
        for chunk in chunks:
            if isinstance(chunk, BaseException):
                raise chunk
            yield chunk

    return generate()


async def run(chunks, **kwargs):
    mock = AsyncMock(return_value=streaming(*chunks))
    with patch("llm_app.llm.acompletion", mock):
        events = [
            event
            async for event in stream_chat(
                messages=kwargs.pop("messages", [{"role": "user", "content": "Hi"}]),
                system=kwargs.pop("system", "Be kind."),
                **kwargs,
            )
        ]
    return events, mock


def terminal(events):
    return [e for e in events if e["type"] in TERMINAL_EVENTS]


async def test_text_then_usage_then_done():
    events, _ = await run(
        [text_chunk("Hel"), text_chunk("lo"), finish_chunk("stop"), usage_chunk(12, 3)],
        provider="gemini/gemini-2.5-flash",
    )
    assert [e["type"] for e in events] == ["text", "text", "usage", "done"]
    assert "".join(e["content"] for e in events if e["type"] == "text") == "Hello"
    usage = events[2]
    assert usage["input_tokens"] == 12
    assert usage["output_tokens"] == 3
    assert usage["finish_reason"] == "stop"
    assert usage["model"] == "gemini/gemini-2.5-flash"
    # Priced from LiteLLM's bundled map: 12 input and 3 output tokens.
    prompt_cost, completion_cost = litellm.cost_per_token(
        model="gemini/gemini-2.5-flash", prompt_tokens=12, completion_tokens=3
    )
    assert usage["cost_usd"] == pytest.approx(prompt_cost + completion_cost)
    assert usage["cost_usd"] > 0
    # The three original events never grow extra keys.
    assert events[0].keys() == {"type", "content"}
    assert events[-1] == {"type": "done"}


async def test_unpriced_model_has_no_cost_rather_than_zero():
    events, _ = await run([text_chunk("Hi"), usage_chunk(5, 1)], provider="hosted_vllm/my-model")
    assert events[-2]["type"] == "usage"
    assert events[-2]["input_tokens"] == 5
    assert events[-2]["cost_usd"] is None


async def test_tool_call_with_fragmented_arguments_is_reported_once_after_stream():
    events, _ = await run(
        [
            text_chunk("Well done."),
            tool_chunk(0, "transition_to_next", ""),
            tool_chunk(0, None, '{"rea'),
            tool_chunk(0, None, 'dy": true}'),
            finish_chunk("tool_calls"),
        ],
        tools=TOOLS,
    )
    tool_events = [e for e in events if e["type"] == EventType.TOOL_USE]
    assert tool_events == [
        {"type": "tool_use", "name": "transition_to_next", "arguments": {"ready": True}}
    ]
    types = [e["type"] for e in events]
    assert types.index("tool_use") > types.index("text")
    assert types[-1] == "done"


async def test_system_prompt_first_and_markers_dropped():
    _, mock = await run(
        [text_chunk("ok")],
        messages=[
            {"role": "system", "content": "Started reading: Intro"},
            {"role": "user", "content": "Hi"},
        ],
        system="You are a tutor.",
    )
    sent = mock.call_args.kwargs["messages"]
    assert sent == [
        {"role": "system", "content": "You are a tutor."},
        {"role": "user", "content": "Hi"},
    ]


@pytest.mark.parametrize("tools", [None, []])
async def test_no_tools_key_when_there_are_no_tools(tools):
    _, mock = await run([text_chunk("ok")], tools=tools)
    assert "tools" not in mock.call_args.kwargs


async def test_empty_stream_is_an_empty_response_error():
    events, _ = await run([finish_chunk("stop")])
    usage, *rest = events
    assert usage["type"] == "usage" and usage["attempts"] == 1
    assert rest == [
        {
            "type": "error",
            "code": "empty_response",
            "message": events[-1]["message"],
            "retryable": True,
        }
    ]
    assert events[-1]["message"]


@pytest.mark.parametrize(
    ("exception", "code", "retryable"),
    [
        (litellm.AuthenticationError("bad key sk-secret", "anthropic", "m"), "auth", False),
        (litellm.RateLimitError("slow down", "anthropic", "m"), "rate_limited", True),
        (litellm.Timeout("too slow", "m", "anthropic"), "timeout", True),
        (litellm.BadRequestError("nope", "m", "anthropic"), "bad_request", False),
        (litellm.InternalServerError("boom", "anthropic", "m"), "unavailable", True),
        (litellm.ServiceUnavailableError("down", "anthropic", "m"), "unavailable", True),
        (litellm.APIConnectionError("refused", "anthropic", "m"), "unavailable", True),
        (RuntimeError("unexpected"), "internal", False),
    ],
)
async def test_failures_at_call_become_one_safe_error(exception, code, retryable):
    mock = AsyncMock(side_effect=exception)
    with patch("llm_app.llm.acompletion", mock):
        events = [e async for e in stream_chat([{"role": "user", "content": "Hi"}], "S")]
    assert [e["type"] for e in events] == ["usage", "error"]
    assert events[0]["input_tokens"] is None and events[0]["attempts"] == 1
    assert events[-1]["code"] == code
    assert events[-1]["retryable"] is retryable
    assert "sk-secret" not in events[-1]["message"]
    assert str(exception) not in events[-1]["message"]


async def test_failure_mid_stream_keeps_partial_text_and_ends_with_one_error():
    events, _ = await run(
        [text_chunk("Part"), litellm.InternalServerError("cut", "anthropic", "m")]
    )
    assert events[0] == {"type": "text", "content": "Part"}
    assert [e["type"] for e in terminal(events)] == ["error"]
    assert events[-1]["type"] == "error"


async def test_key_is_sent_but_never_logged(caplog):
    provider = ResolvedProvider(
        model="anthropic/claude-sonnet-4-20250514", api_key="sk-ant-very-secret"
    )
    error = litellm.AuthenticationError("invalid x-api-key sk-ant-very-secret", "anthropic", "m")
    mock = AsyncMock(side_effect=error)
    with patch("llm_app.llm.acompletion", mock), caplog.at_level("DEBUG"):
        events = [
            e
            async for e in stream_chat([{"role": "user", "content": "Hi"}], "S", provider=provider)
        ]
    assert mock.call_args.kwargs["api_key"] == "sk-ant-very-secret"
    assert "sk-ant-very-secret" not in caplog.text
    assert "sk-ant-very-secret" not in repr(events)
    assert "sk-ant-very-secret" not in repr(provider)


async def test_environment_keys_are_redacted_and_short_keys_leave_words_alone(caplog, settings):
    settings.PROVIDER_ENVIRONMENT_KEYS = ("sk-env-provider-secret",)
    provider = ResolvedProvider(model="anthropic/claude-sonnet-4-20250514", api_key="ro")
    error = litellm.AuthenticationError(
        "invalid x-api-key sk-env-provider-secret for route", "anthropic", "m"
    )
    with patch("llm_app.llm.acompletion", AsyncMock(side_effect=error)), caplog.at_level("DEBUG"):
        events = [
            e
            async for e in stream_chat([{"role": "user", "content": "Hi"}], "S", provider=provider)
        ]
    assert events[-1]["type"] == EventType.ERROR
    assert "sk-env-provider-secret" not in caplog.text
    assert "[redacted] for route" in caplog.text
    # A two-letter "key" is no secret worth blanking out of "route" and "error".
    assert "[redacted]ute" not in caplog.text


def test_resolved_provider_parameters_reach_litellm():
    provider = ResolvedProvider(
        model="openai/gpt-4o-mini",
        api_base="http://127.0.0.1:9/v1",
        api_key="k",
        max_tokens=256,
        temperature=0.2,
        timeout_seconds=7,
        extra_params={"top_p": 0.5, "model": "ignored", "stream": False},
    )
    kwargs = build_completion_kwargs([], "S", None, provider, max_tokens=1024)
    assert kwargs["model"] == "openai/gpt-4o-mini"
    assert kwargs["api_base"] == "http://127.0.0.1:9/v1"
    assert kwargs["max_tokens"] == 256
    assert kwargs["temperature"] == 0.2
    assert kwargs["timeout"] == 7
    assert kwargs["top_p"] == 0.5
    assert kwargs["stream"] is True


def test_default_provider_needs_no_database():
    # No django_db mark: touching the database here would raise.
    kwargs = build_completion_kwargs([], "S", None, ResolvedProvider(model=DEFAULT_PROVIDER), 1024)
    assert kwargs["model"] == DEFAULT_PROVIDER
    assert "api_key" not in kwargs
