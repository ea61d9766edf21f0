"""The fake providers against the real LiteLLM: wire formats, errors, cuts, strictness.

Every test drives `litellm.acompletion` itself (no seam in between) at a fake server on
127.0.0.1, so a LiteLLM upgrade that changes URLs, parsing or error mapping shows up here.
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import litellm
import pytest
from litellm.exceptions import MidStreamFallbackError

from llm_app.testing import FakeProviderServer, Reply, fake_server
from llm_app.testing.script import split_evenly, split_text

litellm.suppress_debug_info = True

MODELS = {
    "anthropic": "anthropic/claude-sonnet-4-20250514",
    "gemini": "gemini/gemini-2.5-flash",
    "openai": "openai/gpt-4o-mini",
}
KINDS = sorted(MODELS)
# Where LiteLLM 1.110.2 posts when given api_base=server.url.
STREAM_PATHS = {
    "anthropic": "/v1/messages",
    "gemini": "/v1beta/models/gemini-2.5-flash:streamGenerateContent",
    "openai": "/v1/chat/completions",
}
KEY_HEADERS = {"anthropic": "x-api-key", "gemini": "x-goog-api-key", "openai": "Authorization"}
API_KEY = "test-key-fake-1234"
REPO_ROOT = Path(__file__).resolve().parents[2]
SYSTEM = "You are a patient tutor."
TOOLS = [
    {
        "type": "function",
        "function": {
            "name": "transition_to_next",
            "description": "Move the learner to the next stage.",
            "parameters": {
                "type": "object",
                "properties": {"reason": {"type": "string"}},
                "required": ["reason"],
            },
        },
    }
]
TOOL_ROUND_TRIP = [
    {"role": "user", "content": "I think I understand now."},
    {
        "role": "assistant",
        "content": None,
        "tool_calls": [
            {
                "id": "call_abc123",
                "type": "function",
                "function": {"name": "transition_to_next", "arguments": '{"reason": "ready"}'},
            }
        ],
    },
    {"role": "tool", "tool_call_id": "call_abc123", "content": "moved on"},
    {"role": "user", "content": "What comes next?"},
]


@dataclass
class Fake:
    kind: str
    model: str
    server: FakeProviderServer


@dataclass
class Outcome:
    text_chunks: list[str] = field(default_factory=list)
    tool_calls: dict[int, dict[str, Any]] = field(default_factory=dict)
    argument_deltas: int = 0
    finish_reason: str | None = None
    usage: Any = None
    error: Exception | None = None
    first_text_at: float | None = None

    @property
    def text(self) -> str:
        return "".join(self.text_chunks)


@pytest.fixture(params=KINDS)
def fake(request: pytest.FixtureRequest) -> Fake:
    server = request.getfixturevalue(f"{request.param}_server")
    return Fake(request.param, MODELS[request.param], server)


def fake_of(kind: str, request: pytest.FixtureRequest) -> Fake:
    return Fake(kind, MODELS[kind], request.getfixturevalue(f"{kind}_server"))


def call_args(fake: Fake, **overrides: Any) -> dict[str, Any]:
    args: dict[str, Any] = {
        "model": fake.model,
        "api_base": fake.server.url,
        "api_key": API_KEY,
        "messages": [
            {"role": "system", "content": SYSTEM},
            {"role": "user", "content": "Can we start?"},
        ],
        "max_tokens": 256,
        "stream": True,
        "num_retries": 0,
        "max_retries": 0,
    }
    args.update(overrides)
    return args


async def stream(fake: Fake, **overrides: Any) -> Outcome:
    """Run one real LiteLLM streaming call and gather what came out, or the exception."""
    outcome = Outcome()
    started = time.monotonic()
    try:
        response = await litellm.acompletion(**call_args(fake, **overrides))
        async for chunk in response:
            if getattr(chunk, "usage", None):
                outcome.usage = chunk.usage
            if not chunk.choices:
                continue
            choice = chunk.choices[0]
            delta = choice.delta
            if delta.content:
                if outcome.first_text_at is None:
                    outcome.first_text_at = time.monotonic() - started
                outcome.text_chunks.append(delta.content)
            for tool_call in delta.tool_calls or []:
                entry = outcome.tool_calls.setdefault(
                    tool_call.index, {"id": None, "name": None, "arguments": ""}
                )
                entry["id"] = tool_call.id or entry["id"]
                entry["name"] = tool_call.function.name or entry["name"]
                if tool_call.function.arguments:
                    entry["arguments"] += tool_call.function.arguments
                    outcome.argument_deltas += 1
            outcome.finish_reason = choice.finish_reason or outcome.finish_reason
    except Exception as error:  # noqa: BLE001 - the outcome carries it to the assertions
        outcome.error = error
    return outcome


def root_cause(error: Exception | None) -> Exception | None:
    """LiteLLM wraps failures met while iterating in MidStreamFallbackError."""
    if isinstance(error, MidStreamFallbackError) and error.original_exception:
        return error.original_exception
    return error


# ---------------------------------------------------------------------- the happy paths


async def test_text_streams_in_chunks_and_reassembles(fake: Fake) -> None:
    reply = Reply.text("Hello there, learner. Shall we begin with fractions?", chunks=4)
    fake.server.enqueue(reply)

    outcome = await stream(fake, stream_options={"include_usage": True})

    assert outcome.error is None
    assert outcome.text_chunks == reply.text_chunks()
    assert len(outcome.text_chunks) == 4
    assert outcome.text == "Hello there, learner. Shall we begin with fractions?"
    assert outcome.finish_reason == "stop"
    assert outcome.usage.prompt_tokens == reply.input_tokens
    assert outcome.usage.completion_tokens == reply.completion_tokens()
    call = await asyncio.to_thread(fake.server.wait_until_finished, 3.0)
    assert call.completed and not call.disconnected and call.chunks_sent == 4


async def test_tool_call_arguments_arrive_whole_after_fragments(fake: Fake) -> None:
    arguments = {"reason": "the learner summarised the article correctly"}
    fake.server.enqueue(
        Reply.tool_call("transition_to_next", arguments, fragments=4, text="Well done.")
    )

    outcome = await stream(fake, tools=TOOLS)

    assert outcome.error is None
    assert outcome.text == "Well done."
    assert list(outcome.tool_calls) == [0]
    call = outcome.tool_calls[0]
    assert call["name"] == "transition_to_next"
    assert call["id"]
    assert json.loads(call["arguments"]) == arguments
    assert outcome.finish_reason == "tool_calls"
    # Anthropic and OpenAI stream arguments in pieces; Gemini sends a functionCall whole.
    assert outcome.argument_deltas == (1 if fake.kind == "gemini" else 4)


async def test_tool_call_without_text(fake: Fake) -> None:
    fake.server.enqueue(Reply.tool_call("transition_to_next", '{"reason": "ok"}', fragments=2))

    outcome = await stream(fake, tools=TOOLS)

    assert outcome.error is None
    assert outcome.text == ""
    assert outcome.tool_calls[0]["name"] == "transition_to_next"
    assert json.loads(outcome.tool_calls[0]["arguments"]) == {"reason": "ok"}


async def test_recorded_request_has_what_litellm_sent(fake: Fake) -> None:
    await stream(fake, tools=TOOLS, max_tokens=321)

    call = fake.server.last_request
    assert call.path == STREAM_PATHS[fake.kind]
    assert call.model == fake.model.split("/", 1)[1]
    assert call.system == SYSTEM
    assert call.roles == ["user"]
    assert call.tool_names == ["transition_to_next"]
    assert call.max_tokens == 321
    assert call.stream is True
    assert call.api_key == API_KEY
    sent_key = call.header(KEY_HEADERS[fake.kind])
    assert sent_key == (f"Bearer {API_KEY}" if fake.kind == "openai" else API_KEY)
    assert call.key_source == f"header:{KEY_HEADERS[fake.kind].lower()}"
    if fake.kind == "gemini":
        assert call.query == {"alt": "sse"}
    if fake.kind == "anthropic":
        assert call.header("anthropic-version") == "2023-06-01"


async def test_empty_stream_ends_quietly_with_no_content(fake: Fake) -> None:
    fake.server.enqueue(Reply.empty())

    outcome = await stream(fake)

    assert outcome.error is None
    assert outcome.text == ""
    assert outcome.tool_calls == {}
    assert outcome.finish_reason == "stop"
    # The client may finish reading before the server thread marks the request done.
    call = await asyncio.to_thread(fake.server.wait_until_finished, 3.0)
    assert call.completed


async def test_truncated_reply_reports_length(fake: Fake) -> None:
    fake.server.enqueue(Reply.text("Cut short by max_tokens", truncated=True))

    outcome = await stream(fake)

    assert outcome.text == "Cut short by max_tokens"
    assert outcome.finish_reason == "length"


async def test_non_streaming_call_gets_the_whole_reply(fake: Fake) -> None:
    fake.server.enqueue(Reply.text("All at once.", chunks=3))

    response = await litellm.acompletion(**call_args(fake, stream=False))

    assert response.choices[0].message.content == "All at once."
    assert fake.server.last_request.completed


async def test_queued_replies_are_used_in_order_then_the_default(fake: Fake) -> None:
    fake.server.enqueue(Reply.text("first"), Reply.text("second"))

    texts = [(await stream(fake)).text for _ in range(3)]

    assert texts == ["first", "second", fake.server.default_reply.reply_text]
    assert len(fake.server.requests) == 3


async def test_litellm_tool_round_trip_passes_the_strict_checks(fake: Fake) -> None:
    outcome = await stream(fake, messages=TOOL_ROUND_TRIP, tools=TOOLS)

    assert outcome.error is None, fake.server.last_request.error
    assert fake.server.last_request.status == 200
    assert fake.server.last_request.roles[:2] == ["user", "assistant"]


# ---------------------------------------------------------------------- failures

ERROR_CASES = {
    "anthropic": {
        400: litellm.BadRequestError,
        401: litellm.AuthenticationError,
        403: litellm.PermissionDeniedError,
        404: litellm.NotFoundError,
        429: litellm.RateLimitError,
        500: litellm.InternalServerError,
        503: litellm.ServiceUnavailableError,
        529: litellm.InternalServerError,
    },
    "gemini": {
        400: litellm.BadRequestError,
        401: litellm.AuthenticationError,
        403: litellm.BadRequestError,  # LiteLLM's Vertex mapping turns 403 into a bad request
        404: litellm.NotFoundError,
        429: litellm.RateLimitError,
        500: litellm.InternalServerError,
        503: litellm.InternalServerError,
        529: litellm.APIError,
    },
    "openai": {
        400: litellm.BadRequestError,
        401: litellm.AuthenticationError,
        403: litellm.APIError,  # not PermissionDeniedError: the OpenAI SDK path maps it so
        404: litellm.NotFoundError,
        429: litellm.RateLimitError,
        500: litellm.InternalServerError,
        503: litellm.ServiceUnavailableError,
        529: litellm.APIError,
    },
}
ERROR_BODY_CHECKS = {
    "anthropic": lambda body, status: body["type"] == "error" and body["error"]["type"],
    "gemini": lambda body, status: body["error"]["code"] == status and body["error"]["status"],
    "openai": lambda body, status: body["error"]["type"] and "param" in body["error"],
}


@pytest.mark.parametrize(
    ("kind", "status", "expected"),
    [(kind, status, cls) for kind, cases in ERROR_CASES.items() for status, cls in cases.items()],
)
async def test_http_error_maps_to_litellm_exception(
    kind: str, status: int, expected: type[Exception], request: pytest.FixtureRequest
) -> None:
    fake = fake_of(kind, request)
    fake.server.enqueue(Reply.error(status))

    outcome = await stream(fake)

    assert type(root_cause(outcome.error)) is expected, repr(outcome.error)
    assert outcome.text == ""
    assert len(fake.server.requests) == 1, "LiteLLM retried despite num_retries=0"
    call = fake.server.last_request
    assert call.status == status
    assert ERROR_BODY_CHECKS[kind](call.error, status)


async def test_gemini_rate_limit_surfaces_while_iterating(gemini_server) -> None:
    """LiteLLM opens Gemini streams lazily, so >=429 errors arrive wrapped, mid-iteration."""
    gemini_server.enqueue(Reply.error(429))

    outcome = await stream(Fake("gemini", MODELS["gemini"], gemini_server))

    assert isinstance(outcome.error, MidStreamFallbackError)
    assert isinstance(outcome.error.original_exception, litellm.RateLimitError)


async def test_a_paused_reply_holds_after_its_chunks_until_resumed(fake: Fake) -> None:
    fake.server.enqueue(Reply.text("one two three four", chunks=4, pause_at=2))
    streaming = asyncio.create_task(stream(fake))
    held = await asyncio.to_thread(fake.server.wait_until_paused)
    assert held.chunks_sent == 2
    assert not streaming.done(), "nothing more is sent while the reply is held"

    fake.server.resume()
    outcome = await streaming
    assert outcome.error is None
    assert outcome.text == "one two three four"
    assert len(held.chunk_times) == 4
    assert held.chunk_times == sorted(held.chunk_times)
    assert not held.paused


async def test_cut_stream_raises_after_the_chunks_that_arrived(fake: Fake) -> None:
    fake.server.enqueue(Reply.cut_after(2, "one two three four five", chunks=5))

    outcome = await stream(fake)

    # A dropped connection never ends quietly: LiteLLM raises, after yielding what arrived.
    assert isinstance(outcome.error, MidStreamFallbackError)
    assert isinstance(root_cause(outcome.error), litellm.APIConnectionError)
    assert outcome.text == "one two "
    assert outcome.finish_reason is None
    call = fake.server.last_request
    assert call.cut and call.chunks_sent == 2
    assert not call.completed and not call.disconnected


async def test_slow_first_token_is_held_back(fake: Fake) -> None:
    fake.server.enqueue(Reply.text("late", chunks=1, first_token_delay=0.4))

    outcome = await stream(fake)

    assert outcome.error is None
    assert outcome.text == "late"
    assert outcome.first_text_at is not None and outcome.first_text_at >= 0.4


async def test_first_token_slower_than_timeout_raises_timeout(fake: Fake) -> None:
    fake.server.enqueue(Reply.text("too late", first_token_delay=1.5))

    outcome = await stream(fake, timeout=0.3)

    assert isinstance(root_cause(outcome.error), litellm.Timeout), repr(outcome.error)
    assert outcome.text == ""


async def test_client_hanging_up_mid_stream_is_recorded(fake: Fake) -> None:
    fake.server.enqueue(Reply.text("a b c d e f g h i j", chunks=10, chunk_delay=0.2))
    response = await litellm.acompletion(**call_args(fake))
    received = []
    async for chunk in response:
        if chunk.choices and chunk.choices[0].delta.content:
            received.append(chunk.choices[0].delta.content)
            if len(received) == 2:
                break
    await response.aclose()

    call = await asyncio.to_thread(fake.server.wait_for_disconnect, 3.0)

    assert received == ["a ", "b "]
    assert call.disconnected and not call.completed
    assert 2 <= call.chunks_sent < 10
    assert fake.server.disconnects == [call]


async def test_finished_stream_is_not_counted_as_a_disconnect(fake: Fake) -> None:
    await stream(fake)

    call = await asyncio.to_thread(fake.server.wait_until_finished, 3.0)

    assert call.completed
    assert fake.server.disconnects == []


async def test_wrong_key_is_an_authentication_error() -> None:
    for kind in KINDS:
        with fake_server(kind, required_key="the-right-key") as server:
            outcome = await stream(Fake(kind, MODELS[kind], server))

            assert type(root_cause(outcome.error)) is litellm.AuthenticationError, kind
            # Google answers a wrong key with 400 API_KEY_INVALID; LiteLLM reads the message.
            assert server.last_request.status == (400 if kind == "gemini" else 401)
            assert API_KEY not in json.dumps(server.last_request.error)


async def test_unknown_model_is_not_found_when_models_are_listed() -> None:
    for kind in KINDS:
        with fake_server(kind, known_models={"some-other-model"}) as server:
            outcome = await stream(Fake(kind, MODELS[kind], server))

            assert type(root_cause(outcome.error)) is litellm.NotFoundError, kind


# ---------------------------------------------------------------------- strictness


async def test_conversation_starting_with_assistant_is_rejected(fake: Fake) -> None:
    messages = [
        {"role": "system", "content": SYSTEM},
        {"role": "assistant", "content": "Welcome! Ready for stage two?"},
        {"role": "user", "content": "Yes."},
    ]

    outcome = await stream(fake, messages=messages)

    assert type(outcome.error) is litellm.BadRequestError
    assert fake.server.last_request.status == 400
    assert fake.server.last_request.roles[0] == "assistant"


async def test_empty_tools_list(fake: Fake) -> None:
    outcome = await stream(fake, tools=[])

    if fake.kind == "gemini":
        # LiteLLM drops an empty tools list for Gemini, so the request is fine.
        assert outcome.error is None
        assert "tools" not in fake.server.last_request.json
    else:
        assert type(outcome.error) is litellm.BadRequestError
        assert fake.server.last_request.json["tools"] == []
        assert fake.server.last_request.status == 400


async def test_tool_history_without_tool_definitions(fake: Fake) -> None:
    outcome = await stream(fake, messages=TOOL_ROUND_TRIP)

    if fake.kind == "anthropic":
        # LiteLLM papers over it by declaring a placeholder tool of its own.
        assert outcome.error is None
        assert fake.server.last_request.tool_names == ["dummy_tool"]
    else:
        assert type(outcome.error) is litellm.BadRequestError
        assert fake.server.last_request.status == 400


def raw_post(fake: Fake, body: dict[str, Any], headers: dict[str, str] | None = None) -> Any:
    """Post straight to the fake (sync httpx), for requests LiteLLM would never build."""
    paths = {
        "anthropic": "/v1/messages",
        "gemini": "/models/gemini-2.5-flash:streamGenerateContent?alt=sse",
        "openai": "/chat/completions",
    }
    default_headers = {
        "anthropic": {"x-api-key": API_KEY, "anthropic-version": "2023-06-01"},
        "gemini": {"x-goog-api-key": API_KEY},
        "openai": {"Authorization": f"Bearer {API_KEY}"},
    }[fake.kind]
    merged = {**default_headers, **(headers or {})}
    merged = {name: value for name, value in merged.items() if value is not None}
    return httpx.post(fake.server.url + paths[fake.kind], json=body, headers=merged, timeout=5)


def valid_body(kind: str, **changes: Any) -> dict[str, Any]:
    if kind == "anthropic":
        body = {
            "model": "claude-sonnet-4-20250514",
            "max_tokens": 100,
            "stream": True,
            "messages": [{"role": "user", "content": "hi"}],
        }
    elif kind == "gemini":
        body = {"contents": [{"role": "user", "parts": [{"text": "hi"}]}]}
    else:
        body = {
            "model": "gpt-4o-mini",
            "stream": True,
            "messages": [{"role": "user", "content": "hi"}],
        }
    body.update(changes)
    return body


def assert_provider_400(kind: str, response: httpx.Response, fragment: str) -> None:
    assert response.status_code == 400, response.text
    body = response.json()
    message = {
        "anthropic": lambda: body["error"]["message"],
        "gemini": lambda: body["error"]["message"],
        "openai": lambda: body["error"]["message"],
    }[kind]()
    if kind == "anthropic":
        assert body["type"] == "error" and body["error"]["type"] == "invalid_request_error"
    elif kind == "gemini":
        assert body["error"]["status"] == "INVALID_ARGUMENT"
    else:
        assert body["error"]["type"] == "invalid_request_error"
    assert fragment in message, message


def test_valid_raw_request_streams(fake: Fake) -> None:
    response = raw_post(fake, valid_body(fake.kind))

    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/event-stream")
    assert fake.server.wait_until_finished(3.0).completed


def test_tools_null_is_rejected(fake: Fake) -> None:
    response = raw_post(fake, valid_body(fake.kind, tools=None))

    assert_provider_400(fake.kind, response, "tools")


def test_unknown_top_level_field_is_rejected(fake: Fake) -> None:
    response = raw_post(fake, valid_body(fake.kind, temprature=0.5))

    expected = {
        "anthropic": "temprature: Extra inputs are not permitted",
        "gemini": 'Unknown name "temprature"',
        "openai": "Unrecognized request argument supplied: temprature",
    }[fake.kind]
    assert_provider_400(fake.kind, response, expected)


def test_missing_key_is_refused(fake: Fake) -> None:
    header = KEY_HEADERS[fake.kind]
    queued = Reply.text("kept for a request that authenticates")
    fake.server.enqueue(queued)

    response = raw_post(fake, valid_body(fake.kind), headers={header: None})

    assert response.status_code == (403 if fake.kind == "gemini" else 401)
    assert fake.server.last_request.api_key is None
    assert fake.server.pending_replies == [queued]  # a refused request consumes no reply


def test_gemini_accepts_the_key_as_a_query_parameter(gemini_server) -> None:
    fake = Fake("gemini", MODELS["gemini"], gemini_server)
    url = (
        gemini_server.url + f"/models/gemini-2.5-flash:streamGenerateContent?alt=sse&key={API_KEY}"
    )

    response = httpx.post(url, json=valid_body("gemini"), timeout=5)

    assert response.status_code == 200, response.text
    assert fake.server.last_request.key_source == "query:key"
    assert fake.server.last_request.api_key == API_KEY


def test_gemini_without_alt_sse_streams_a_json_array(gemini_server) -> None:
    gemini_server.enqueue(Reply.text("one two", chunks=2))
    url = gemini_server.url + "/models/gemini-2.5-flash:streamGenerateContent"

    response = httpx.post(
        url, json=valid_body("gemini"), headers={"x-goog-api-key": API_KEY}, timeout=5
    )

    chunks = response.json()
    assert [c["candidates"][0]["content"]["parts"][0]["text"] for c in chunks] == ["one ", "two"]
    assert chunks[-1]["candidates"][0]["finishReason"] == "STOP"


def test_anthropic_specific_rules(anthropic_server) -> None:
    fake = Fake("anthropic", MODELS["anthropic"], anthropic_server)
    body = valid_body("anthropic")
    del body["max_tokens"]
    assert_provider_400("anthropic", raw_post(fake, body), "max_tokens: Field required")

    two_users = valid_body(
        "anthropic",
        messages=[{"role": "user", "content": "a"}, {"role": "user", "content": "b"}],
    )
    assert_provider_400("anthropic", raw_post(fake, two_users), "roles must alternate")

    empty_middle = valid_body(
        "anthropic",
        messages=[
            {"role": "user", "content": "a"},
            {"role": "assistant", "content": ""},
            {"role": "user", "content": "b"},
        ],
    )
    assert_provider_400("anthropic", raw_post(fake, empty_middle), "non-empty content")

    tool_history = valid_body(
        "anthropic",
        messages=[
            {"role": "user", "content": "a"},
            {
                "role": "assistant",
                "content": [{"type": "tool_use", "id": "toolu_1", "name": "t", "input": {}}],
            },
            {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "toolu_1"}]},
        ],
    )
    assert_provider_400("anthropic", raw_post(fake, tool_history), "must define tools")

    no_version = raw_post(fake, valid_body("anthropic"), headers={"anthropic-version": None})
    assert_provider_400("anthropic", no_version, "anthropic-version: header is required")


def test_openai_unanswered_tool_call_is_rejected(openai_server) -> None:
    fake = Fake("openai", MODELS["openai"], openai_server)
    body = valid_body(
        "openai",
        tools=TOOLS,
        messages=[*TOOL_ROUND_TRIP[:2], {"role": "user", "content": "and?"}],
    )

    assert_provider_400(
        "openai", raw_post(fake, body), "did not have response messages: call_abc123"
    )


def test_gemini_function_call_must_follow_a_user_turn(gemini_server) -> None:
    fake = Fake("gemini", MODELS["gemini"], gemini_server)
    body = valid_body(
        "gemini",
        tools=[{"functionDeclarations": [{"name": "transition_to_next"}]}],
        contents=[
            {"role": "user", "parts": [{"text": "hi"}]},
            {"role": "model", "parts": [{"text": "hello"}]},
            {"role": "model", "parts": [{"functionCall": {"name": "transition_to_next"}}]},
        ],
    )

    assert_provider_400("gemini", raw_post(fake, body), "function call turn comes immediately")


# ---------------------------------------------------------------------- out of process


def test_control_endpoints_script_and_inspect_a_server(openai_server) -> None:
    root = openai_server.root_url
    queued = httpx.post(
        f"{root}/_fake/enqueue",
        json={"kind": "text", "reply_text": "from afar", "chunks": 2},
        timeout=5,
    )
    assert queued.json() == {"queued": 1}

    raw_post(Fake("openai", MODELS["openai"], openai_server), valid_body("openai"))
    seen = httpx.get(f"{root}/_fake/requests", timeout=5).json()

    assert seen[-1]["path"] == "/v1/chat/completions"
    assert seen[-1]["reply"]["reply_text"] == "from afar"
    assert seen[-1]["completed"] is True
    bad = httpx.post(f"{root}/_fake/enqueue", json={"kind": "text", "bogus": 1}, timeout=5)
    assert bad.status_code == 400
    assert httpx.post(f"{root}/_fake/resume", timeout=5).json() == {"resumed": True}


def test_command_line_server_answers_litellm_shaped_requests() -> None:
    process = subprocess.Popen(
        [sys.executable, "-m", "llm_app.testing.fake_providers", "--kind", "anthropic"],
        stdout=subprocess.PIPE,
        text=True,
        cwd=REPO_ROOT,
    )
    try:
        first_line = process.stdout.readline()
        api_base = first_line.strip().split("api_base=")[1]
        response = litellm.completion(
            model=MODELS["anthropic"],
            api_base=api_base,
            api_key=API_KEY,
            messages=[{"role": "user", "content": "hi"}],
            max_tokens=50,
            num_retries=0,
        )
        assert response.choices[0].message.content.startswith("This is a fake tutor reply")
    finally:
        process.terminate()
        process.wait(timeout=5)
    assert process.returncode == 0


# ---------------------------------------------------------------------- the script itself


@pytest.mark.parametrize(
    ("text", "parts"),
    [("Hello there friend", 3), ("Hello there friend", 2), ("Hi", 5), ("one", 1), ("a  b ", 2)],
)
def test_text_splits_rejoin_exactly(text: str, parts: int) -> None:
    pieces = split_text(text, parts)

    assert "".join(pieces) == text
    assert len(pieces) == min(parts, len(text))
    assert all(pieces)


def test_argument_fragments_cut_anywhere() -> None:
    assert split_evenly('{"reason": "x"}', 3) == ['{"rea', 'son":', ' "x"}']
    assert split_evenly("{}", 3) == ["{", "}"]


def test_reply_from_json_matches_the_factories() -> None:
    reply = Reply.from_dict({"kind": "tool_call", "tool_name": "t", "arguments": {"a": 1}})

    assert reply == Reply.tool_call("t", {"a": 1}, chunks=3)
    assert reply.reply_text == ""
    assert reply.arguments == '{"a":1}'


def test_reply_rejects_nonsense() -> None:
    with pytest.raises(ValueError):
        Reply.cut_after(3, "a b c", chunks=3)
    with pytest.raises(ValueError):
        Reply.error(200)
    with pytest.raises(ValueError):
        Reply.text(chunks=0)
    with pytest.raises(ValueError):
        Reply.from_dict({"kind": "text", "colour": "blue"})
