"""A fake OpenAI Chat Completions API: POST /v1/chat/completions with chat.completion.chunk SSE.

LiteLLM's `openai/` route hands the api_base to the OpenAI SDK, which appends /chat/completions,
so `url` ends in /v1, like the real service's base URL.
"""

from __future__ import annotations

import json
import re
import time
import uuid
from collections.abc import Iterator
from typing import Any, ClassVar

from aiohttp import web

from llm_app.testing.fake_moderation import (
    MODERATIONS_PATH,
    moderation_body,
    moderation_problem,
)
from llm_app.testing.script import Reply
from llm_app.testing.server import (
    Dialect,
    FakeProviderServer,
    Frame,
    ProviderError,
    RecordedRequest,
    sse,
)

COMPLETIONS_PATH = "/v1/chat/completions"

# The create call's documented body fields; anything else is "Unrecognized request argument".
TOP_LEVEL_FIELDS = frozenset(
    {
        "model",
        "messages",
        "stream",
        "stream_options",
        "max_tokens",
        "max_completion_tokens",
        "temperature",
        "top_p",
        "n",
        "stop",
        "presence_penalty",
        "frequency_penalty",
        "logit_bias",
        "logprobs",
        "top_logprobs",
        "user",
        "tools",
        "tool_choice",
        "parallel_tool_calls",
        "response_format",
        "seed",
        "service_tier",
        "store",
        "metadata",
        "modalities",
        "audio",
        "prediction",
        "reasoning_effort",
        "verbosity",
        "web_search_options",
        "prompt_cache_key",
        "prompt_cache_retention",
        "safety_identifier",
        "functions",
        "function_call",
    }
)
SYSTEM_ROLES = frozenset({"system", "developer"})
ROLES = ("system", "assistant", "user", "function", "tool", "developer")
TOOL_NAME = re.compile(r"^[a-zA-Z0-9_-]{1,64}$")

ERRORS: dict[int, tuple[str, str | None, str]] = {
    400: ("invalid_request_error", None, "Invalid request."),
    401: ("invalid_request_error", "invalid_api_key", "Incorrect API key provided."),
    403: (
        "request_forbidden",
        "unsupported_country_region_territory",
        "Country, region, or territory not supported",
    ),
    404: ("invalid_request_error", "model_not_found", "The model does not exist."),
    429: (
        "requests",
        "rate_limit_exceeded",
        "Rate limit reached for requests per min (RPM): Limit 3, Used 3, Requested 1. "
        "Please try again in 20s.",
    ),
    500: (
        "server_error",
        None,
        "The server had an error while processing your request. Sorry about that!",
    ),
    502: ("server_error", None, "Bad gateway."),
    503: ("server_error", None, "The engine is currently overloaded, please try again later."),
}
MISSING_KEY_MESSAGE = (
    "You didn't provide an API key. You need to provide your API key in an Authorization header "
    "using Bearer auth (i.e. Authorization: Bearer YOUR_KEY), or as the password field (with "
    "blank username) if you're accessing the API from your browser and are prompted for a "
    # The real text ends with a link to OpenAI's key page; the fakes name no real host.
    "username. You can obtain an API key from your account's API keys page."
)


def mask_key(key: str) -> str:
    """The real API echoes a wrong key with all but its ends starred out."""
    if len(key) <= 8:
        return "*" * len(key)
    return key[:3] + "*" * (len(key) - 7) + key[-4:]


class OpenAIDialect(Dialect):
    @staticmethod
    def system(call: RecordedRequest) -> str | None:
        texts = []
        for message in call.json.get("messages") or []:
            if isinstance(message, dict) and message.get("role") in SYSTEM_ROLES:
                content = message.get("content")
                if isinstance(content, list):
                    content = "".join(part.get("text", "") for part in content)
                texts.append(str(content or ""))
        return "\n".join(texts) if texts else None

    @staticmethod
    def messages(call: RecordedRequest) -> list[dict[str, Any]]:
        return [
            message
            for message in call.json.get("messages") or []
            if isinstance(message, dict) and message.get("role") not in SYSTEM_ROLES
        ]

    @staticmethod
    def roles(call: RecordedRequest) -> list[str]:
        return [str(message.get("role")) for message in OpenAIDialect.messages(call)]

    @staticmethod
    def tools(call: RecordedRequest) -> list[dict[str, Any]] | None:
        return call.json.get("tools")

    @staticmethod
    def tool_names(call: RecordedRequest) -> list[str]:
        return [
            (tool.get("function") or {}).get("name", "")
            for tool in call.json.get("tools") or []
            if isinstance(tool, dict)
        ]

    @staticmethod
    def max_tokens(call: RecordedRequest) -> int | None:
        body = call.json
        return body.get("max_completion_tokens", body.get("max_tokens"))


class FakeOpenAIServer(FakeProviderServer):
    kind: ClassVar[str] = "openai"
    base_path: ClassVar[str] = "/v1"
    dialect: ClassVar[type[Dialect]] = OpenAIDialect

    def __init__(self, **options: Any) -> None:
        super().__init__(**options)
        # term -> the moderation category a text containing it is flagged in (flag()).
        self.flagged_terms: dict[str, str] = {}
        # True: moderation requests are held until resume(), like a reply's pause_at.
        self.hold_moderation = False

    def routes(self) -> list[web.AbstractRouteDef]:
        return [
            web.post(COMPLETIONS_PATH, self.serve),
            web.post(MODERATIONS_PATH, self.serve_moderation),
        ]

    def flag(self, term: str, category: str = "harassment") -> FakeOpenAIServer:
        """Moderation flags any text containing ``term`` (case-insensitive) in ``category``."""
        self.flagged_terms[term] = category
        return self

    async def serve_moderation(self, request: web.Request) -> web.Response:
        """POST /v1/moderations (fake_moderation.py): recorded, authenticated, strict."""
        call = self._record(request, await request.read())
        try:
            self.authenticate(request, call)
            try:
                call.body = json.loads(call.raw_body) if call.raw_body else None
            except ValueError as parse_error:
                raise self.invalid_json(str(parse_error)) from parse_error
            problem = moderation_problem(call.body)
            if problem is not None:
                raise self._invalid(*problem)
            if self.hold_moderation:
                await self._hold(call)
        except ProviderError as error:
            return self._error_response(call, error)
        call.status = 200
        call.completed = True
        self._notify()
        return web.json_response(moderation_body(call.body, dict(self.flagged_terms)))

    # ------------------------------------------------------------------ errors

    def error(self, status: int, message: str | None = None) -> ProviderError:
        error_type, code, default = ERRORS.get(
            status, ("server_error" if status >= 500 else "invalid_request_error", None, "Error.")
        )
        return self._error(status, message or default, error_type=error_type, code=code)

    @staticmethod
    def _error(
        status: int,
        message: str,
        *,
        error_type: str = "invalid_request_error",
        param: str | None = None,
        code: str | None = None,
    ) -> ProviderError:
        headers = {"x-request-id": f"req_{uuid.uuid4().hex}"}
        if status == 429:
            headers["retry-after"] = "1"
        body = {"error": {"message": message, "type": error_type, "param": param, "code": code}}
        return ProviderError(status, body, headers)

    def _invalid(
        self, message: str, param: str | None = None, code: str | None = None
    ) -> ProviderError:
        return self._error(400, message, param=param, code=code)

    def invalid_json(self, detail: str) -> ProviderError:
        return self._invalid(
            "We could not parse the JSON body of your request. (HINT: This likely means you "
            "aren't using your HTTP library correctly. The OpenAI API expects a JSON payload, "
            f"but what was sent was not valid JSON. {detail})"
        )

    def not_found(self, path: str) -> ProviderError:
        return self._error(404, f"Invalid URL (POST {path})")

    # ------------------------------------------------------------------ checks

    def authenticate(self, request: web.Request, call: RecordedRequest) -> None:
        authorization = request.headers.get("Authorization", "")
        scheme, _, key = authorization.partition(" ")
        if scheme.lower() != "bearer" or not key.strip():
            raise self._error(401, MISSING_KEY_MESSAGE)
        call.api_key = key.strip()
        call.key_source = "header:authorization"
        if self.required_key is not None and call.api_key != self.required_key:
            raise self._error(
                401,
                f"Incorrect API key provided: {mask_key(call.api_key)}. You can find your API "
                "key on your account's API keys page.",
                code="invalid_api_key",
            )

    def validate(self, call: RecordedRequest) -> None:
        body = call.json
        for name in body:
            if name not in TOP_LEVEL_FIELDS:
                raise self._invalid(f"Unrecognized request argument supplied: {name}")
        model = body.get("model")
        if not isinstance(model, str) or not model:
            raise self._invalid("you must provide a model parameter")
        if self.known_models is not None and model not in self.known_models:
            raise self._error(
                404,
                f"The model `{model}` does not exist or you do not have access to it.",
                code="model_not_found",
            )
        if body.get("stream_options") is not None and not body.get("stream"):
            raise self._invalid(
                "The 'stream_options' parameter is only allowed when 'stream' is enabled.",
                param="stream_options",
            )
        for name in ("max_tokens", "max_completion_tokens"):
            value = body.get(name)
            if value is not None and (not isinstance(value, int) or value < 1):
                raise self._invalid(
                    f"Invalid '{name}': integer below minimum value. Expected a value >= 1, "
                    f"but got {value} instead.",
                    param=name,
                    code="integer_below_min_value",
                )
        has_tools = self._check_tools(body)
        self._check_messages(body, has_tools)

    def _check_tools(self, body: dict[str, Any]) -> bool:
        if "tools" not in body:
            return False
        tools = body["tools"]
        if tools is None:
            # The real API takes null; rejected here as this fake's portable rule, since
            # Anthropic refuses it and the app should simply leave tools out.
            raise self._invalid(
                "Invalid type for 'tools': expected an array of objects, but got null instead.",
                param="tools",
                code="invalid_type",
            )
        if not isinstance(tools, list):
            raise self._invalid(
                "Invalid type for 'tools': expected an array of objects.",
                param="tools",
                code="invalid_type",
            )
        if not tools:
            raise self._invalid(
                "Invalid 'tools': empty array. Expected an array with minimum length 1, but got "
                "an empty array instead.",
                param="tools",
                code="empty_array",
            )
        for index, tool in enumerate(tools):
            function = tool.get("function") if isinstance(tool, dict) else None
            if not isinstance(function, dict):
                raise self._invalid(
                    f"Missing required parameter: 'tools[{index}].function'.",
                    param=f"tools[{index}].function",
                    code="missing_required_parameter",
                )
            if not TOOL_NAME.match(str(function.get("name", ""))):
                raise self._invalid(
                    f"Invalid 'tools[{index}].function.name': string does not match pattern. "
                    "Expected a string that matches the pattern '^[a-zA-Z0-9_-]+$'.",
                    param=f"tools[{index}].function.name",
                    code="invalid_value",
                )
        return True

    def _check_messages(self, body: dict[str, Any], has_tools: bool) -> None:
        messages = self._message_list(body)
        seen_conversation = False
        # The tool calls of the last assistant message, and those the tool messages answered.
        awaiting: list[str] = []
        answered: set[str] = set()
        for index, message in enumerate(messages):
            role = self._role(index, message)
            if role in SYSTEM_ROLES:
                continue
            if not seen_conversation and role != "user":
                # Portable rule: OpenAI itself takes an assistant-first conversation.
                raise self._invalid(
                    f"Invalid 'messages[{index}]': the first non-system message must have role "
                    f"'user', got '{role}'.",
                    param=f"messages[{index}].role",
                )
            seen_conversation = True
            if role == "tool":
                answered.add(self._tool_answer(index, message, awaiting))
                continue
            self._check_answered(awaiting, answered)
            awaiting, answered = self._tool_calls(index, message, has_tools), set()
        self._check_answered(awaiting, answered)

    def _message_list(self, body: dict[str, Any]) -> list[Any]:
        if "messages" not in body:
            raise self._invalid(
                "Missing required parameter: 'messages'.",
                param="messages",
                code="missing_required_parameter",
            )
        messages = body["messages"]
        if not isinstance(messages, list) or not messages:
            raise self._invalid(
                "Invalid 'messages': empty array. Expected an array with minimum length 1, but "
                "got an empty array instead.",
                param="messages",
                code="empty_array",
            )
        return messages

    def _role(self, index: int, message: Any) -> str:
        role = message.get("role") if isinstance(message, dict) else None
        if role not in ROLES:
            raise self._invalid(
                f"Invalid value: '{role}'. Supported values are: 'system', 'assistant', "
                "'user', 'function', 'tool', and 'developer'.",
                param=f"messages[{index}].role",
                code="invalid_value",
            )
        return role

    def _tool_answer(self, index: int, message: dict[str, Any], awaiting: list[str]) -> str:
        """The id of the tool call this tool message answers, if one is awaited."""
        call_id = message.get("tool_call_id")
        if call_id not in awaiting:
            raise self._invalid(
                "Invalid parameter: messages with role 'tool' must be a response to a "
                "preceeding message with 'tool_calls'.",
                param=f"messages.[{index}].role",
            )
        return call_id

    def _tool_calls(self, index: int, message: dict[str, Any], has_tools: bool) -> list[str]:
        """The ids of the tool calls an assistant message makes (none for a user message)."""
        tool_calls = message.get("tool_calls") if message["role"] == "assistant" else None
        if not tool_calls:
            return []
        if not has_tools:
            # Portable rule: Anthropic refuses tool history without tool definitions.
            raise self._invalid(
                f"Invalid 'messages[{index}]': 'tool_calls' in the conversation need "
                "'tools' definitions in the same request.",
                param="tools",
            )
        return [str(tool_call.get("id")) for tool_call in tool_calls]

    def _check_answered(self, awaiting: list[str], answered: set[str]) -> None:
        if awaiting and set(awaiting) - answered:
            missing = ", ".join(i for i in awaiting if i not in answered)
            raise self._invalid(
                "An assistant message with 'tool_calls' must be followed by tool messages "
                "responding to each 'tool_call_id'. The following tool_call_ids did not have "
                f"response messages: {missing}",
                param="messages",
            )

    # ------------------------------------------------------------------ answers

    @staticmethod
    def _finish_reason(reply: Reply) -> str:
        if reply.kind == "tool_call":
            return "tool_calls"
        return "length" if reply.truncated else "stop"

    @staticmethod
    def _usage(reply: Reply) -> dict[str, Any]:
        output = reply.completion_tokens()
        return {
            "prompt_tokens": reply.input_tokens,
            "completion_tokens": output,
            "total_tokens": reply.input_tokens + output,
            "prompt_tokens_details": {"cached_tokens": 0, "audio_tokens": 0},
            "completion_tokens_details": {
                "reasoning_tokens": 0,
                "audio_tokens": 0,
                "accepted_prediction_tokens": 0,
                "rejected_prediction_tokens": 0,
            },
        }

    def _call_id(self, reply: Reply) -> str:
        return reply.tool_call_id or f"call_fake{uuid.uuid4().hex[:20]}"

    def stream_frames(self, call: RecordedRequest, reply: Reply) -> Iterator[Frame]:
        include_usage = bool((call.json.get("stream_options") or {}).get("include_usage"))
        base: dict[str, Any] = {
            "id": f"chatcmpl-fake{self.next_id():04d}{uuid.uuid4().hex[:16]}",
            "object": "chat.completion.chunk",
            "created": int(time.time()),
            "model": call.model,
            "service_tier": "default",
            "system_fingerprint": "fp_fake0001",
        }

        def chunk(delta: dict[str, Any], finish: str | None = None, *, content: bool) -> Frame:
            data = {
                **base,
                "choices": [
                    {"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}
                ],
            }
            if include_usage:
                data["usage"] = None
            return Frame(sse(data), content=content)

        text_chunks = reply.text_chunks()
        if text_chunks or reply.kind != "tool_call":
            yield chunk({"role": "assistant", "content": "", "refusal": None}, content=False)
            for piece in text_chunks:
                yield chunk({"content": piece}, content=True)
        if reply.kind == "tool_call":
            announce: dict[str, Any] = {
                "tool_calls": [
                    {
                        "index": 0,
                        "id": self._call_id(reply),
                        "type": "function",
                        "function": {"name": reply.tool_name, "arguments": ""},
                    }
                ]
            }
            if not text_chunks:
                announce = {"role": "assistant", "content": None, **announce, "refusal": None}
            yield chunk(announce, content=True)
            for fragment in reply.argument_fragments():
                yield chunk(
                    {"tool_calls": [{"index": 0, "function": {"arguments": fragment}}]},
                    content=True,
                )
        yield chunk({}, self._finish_reason(reply), content=False)
        if include_usage:
            yield Frame(sse({**base, "choices": [], "usage": self._usage(reply)}))
        yield Frame(sse("[DONE]"))

    def complete_body(self, call: RecordedRequest, reply: Reply) -> dict[str, Any]:
        message: dict[str, Any] = {
            "role": "assistant",
            "content": reply.reply_text if reply.kind in ("text", "tool_call") else "",
            "refusal": None,
            "annotations": [],
        }
        if reply.kind == "tool_call":
            message["content"] = reply.reply_text or None
            message["tool_calls"] = [
                {
                    "id": self._call_id(reply),
                    "type": "function",
                    "function": {"name": reply.tool_name, "arguments": reply.arguments},
                }
            ]
        return {
            "id": f"chatcmpl-fake{self.next_id():04d}{uuid.uuid4().hex[:16]}",
            "object": "chat.completion",
            "created": int(time.time()),
            "model": call.model,
            "choices": [
                {
                    "index": 0,
                    "message": message,
                    "logprobs": None,
                    "finish_reason": self._finish_reason(reply),
                }
            ],
            "usage": self._usage(reply),
            "service_tier": "default",
            "system_fingerprint": "fp_fake0001",
        }
