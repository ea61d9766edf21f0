"""A fake Anthropic Messages API: POST /v1/messages with the real SSE event sequence.

LiteLLM's `anthropic/` route joins `v1/messages` onto the api_base, so `url` is the bare
http://127.0.0.1:PORT, with no path, like the real service's base URL.
"""

from __future__ import annotations

import hashlib
import json
import re
import threading
import uuid
from collections.abc import Iterator
from typing import Any, ClassVar

from aiohttp import web

from llm_app.testing.script import Reply
from llm_app.testing.server import (
    Dialect,
    FakeProviderServer,
    Frame,
    ProviderError,
    RecordedRequest,
    sse,
)

MESSAGES_PATH = "/v1/messages"
KNOWN_VERSIONS = frozenset({"2023-06-01", "2023-01-01"})

# Every top-level field of the Messages API create call; anything else is "Extra inputs are not
# permitted". LiteLLM 1.110.2 sends model, messages, max_tokens, system, stream, temperature,
# tools, tool_choice, top_p, stop_sequences, metadata, thinking as they apply.
TOP_LEVEL_FIELDS = frozenset(
    {
        "model",
        "messages",
        "max_tokens",
        "system",
        "stream",
        "temperature",
        "top_p",
        "top_k",
        "stop_sequences",
        "tools",
        "tool_choice",
        "metadata",
        "thinking",
        "service_tier",
        "container",
        "context_management",
        "mcp_servers",
        "output_config",
        "output_format",
        "inference_geo",
        "cache_control",
        "speed",
    }
)

ERROR_TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    402: "billing_error",
    403: "permission_error",
    404: "not_found_error",
    408: "timeout_error",
    413: "request_too_large",
    429: "rate_limit_error",
    500: "api_error",
    502: "api_error",
    503: "api_error",
    504: "timeout_error",
    529: "overloaded_error",
}
DEFAULT_MESSAGES = {
    400: "Invalid request.",
    401: "invalid x-api-key",
    402: "Your credit balance is too low to access the Anthropic API.",
    403: "Your API key does not have permission to use the specified resource.",
    404: "Not found.",
    408: "Request timed out.",
    413: "Request exceeds the maximum allowed number of bytes.",
    429: (
        "This request would exceed the rate limit for your organization of 50,000 input "
        "tokens per minute. Please reduce the prompt length or the maximum tokens requested, "
        "or try again later."
    ),
    500: "Internal server error",
    502: "Bad gateway",
    503: "Service unavailable",
    504: "Request timed out.",
    529: "Overloaded",
}
# Roughly four characters a token, as for English text; the fake only needs stable counts.
CHARS_PER_TOKEN = 4
TOOL_NAME = re.compile(r"^[a-zA-Z0-9_-]{1,128}$")
TOOL_BLOCK_TYPES = frozenset({"tool_use", "tool_result", "server_tool_use"})


def _text_of(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "".join(
            block.get("text", "")
            for block in content
            if isinstance(block, dict) and block.get("type") == "text"
        )
    return ""


def _blocks(content: Any) -> list[dict[str, Any]]:
    if isinstance(content, str):
        return [{"type": "text", "text": content}] if content else []
    if isinstance(content, list):
        return [block for block in content if isinstance(block, dict)]
    return []


class AnthropicDialect(Dialect):
    @staticmethod
    def system(call: RecordedRequest) -> str | None:
        system = call.json.get("system")
        return None if system is None else _text_of(system)

    @staticmethod
    def messages(call: RecordedRequest) -> list[dict[str, Any]]:
        messages = call.json.get("messages")
        return messages if isinstance(messages, list) else []

    @staticmethod
    def roles(call: RecordedRequest) -> list[str]:
        return [str(message.get("role")) for message in AnthropicDialect.messages(call)]

    @staticmethod
    def tools(call: RecordedRequest) -> list[dict[str, Any]] | None:
        return call.json.get("tools")

    @staticmethod
    def tool_names(call: RecordedRequest) -> list[str]:
        return [tool.get("name", "") for tool in call.json.get("tools") or []]

    @staticmethod
    def max_tokens(call: RecordedRequest) -> int | None:
        return call.json.get("max_tokens")


class FakeAnthropicServer(FakeProviderServer):
    kind: ClassVar[str] = "anthropic"
    base_path: ClassVar[str] = ""
    dialect: ClassVar[type[Dialect]] = AnthropicDialect

    def __init__(self, **options: Any) -> None:
        super().__init__(**options)
        # Prompt-cache prefixes seen so far, by hash; see `cache_usage`.
        self._prompt_cache: set[str] = set()
        self._prompt_cache_lock = threading.Lock()

    def routes(self) -> list[web.AbstractRouteDef]:
        return [web.post(MESSAGES_PATH, self.serve)]

    def reset(self) -> None:
        super().reset()
        with self._prompt_cache_lock:
            self._prompt_cache.clear()

    # ------------------------------------------------------------------ prompt caching

    def cache_usage(self, call: RecordedRequest) -> dict[str, int]:
        """The usage's cache fields for this request, as the real prompt cache reports them.

        Like the real API, the cached prefix runs in the order tools, system, messages up to
        and including the last block marked with `cache_control`. The first request with a
        given prefix (and model) writes it, `cache_creation_input_tokens`; later ones read
        it, `cache_read_input_tokens`. Unmarked requests report zeros. The real minimum
        cacheable length (1024+ tokens) is not enforced, so short test prompts cache too.
        """
        body = call.json
        blocks: list[Any] = list(body.get("tools") or [])
        system = body.get("system")
        if isinstance(system, list):
            blocks.extend(system)
        for message in body.get("messages") or []:
            if isinstance(message, dict):
                blocks.extend(_blocks(message.get("content")))
        marked = [
            index
            for index, block in enumerate(blocks)
            if isinstance(block, dict) and block.get("cache_control")
        ]
        if not marked:
            return {"cache_creation_input_tokens": 0, "cache_read_input_tokens": 0}
        prefix = json.dumps([body.get("model"), blocks[: marked[-1] + 1]], sort_keys=True)
        tokens = max(1, len(prefix) // CHARS_PER_TOKEN)
        key = hashlib.sha256(prefix.encode()).hexdigest()
        with self._prompt_cache_lock:
            hit = key in self._prompt_cache
            self._prompt_cache.add(key)
        return {
            "cache_creation_input_tokens": 0 if hit else tokens,
            "cache_read_input_tokens": tokens if hit else 0,
        }

    # ------------------------------------------------------------------ errors

    def error(self, status: int, message: str | None = None) -> ProviderError:
        error_type = ERROR_TYPES.get(status, "api_error")
        headers = {"request-id": f"req_fake{uuid.uuid4().hex[:20]}"}
        if status == 429 or status >= 500:
            headers["x-should-retry"] = "true"
        if status == 429:
            headers["retry-after"] = "1"
        body = {
            "type": "error",
            "error": {"type": error_type, "message": message or DEFAULT_MESSAGES.get(status, "")},
            "request_id": headers["request-id"],
        }
        return ProviderError(status, body, headers)

    def invalid_json(self, detail: str) -> ProviderError:
        return self.error(400, f"There was an error parsing the body: {detail}")

    def not_found(self, path: str) -> ProviderError:
        return self.error(404, f"Not Found: {path}")

    def _invalid(self, message: str) -> ProviderError:
        return self.error(400, message)

    # ------------------------------------------------------------------ checks

    def authenticate(self, request: web.Request, call: RecordedRequest) -> None:
        key = request.headers.get("x-api-key")
        if not key:
            raise self.error(401, "x-api-key header is required")
        call.api_key = key
        call.key_source = "header:x-api-key"
        if self.required_key is not None and key != self.required_key:
            raise self.error(401, "invalid x-api-key")
        version = request.headers.get("anthropic-version")
        if not version:
            raise self._invalid("anthropic-version: header is required")
        if version not in KNOWN_VERSIONS:
            raise self._invalid(f"anthropic-version: invalid version '{version}'")

    def validate(self, call: RecordedRequest) -> None:
        body = call.json
        for name in body:
            if name not in TOP_LEVEL_FIELDS:
                raise self._invalid(f"{name}: Extra inputs are not permitted")
        model = body.get("model")
        if not isinstance(model, str) or not model:
            raise self._invalid("model: Field required")
        if self.known_models is not None and model not in self.known_models:
            raise self.error(404, f"model: {model}")
        if "max_tokens" not in body:
            raise self._invalid("max_tokens: Field required")
        max_tokens = body["max_tokens"]
        if not isinstance(max_tokens, int) or isinstance(max_tokens, bool):
            raise self._invalid("max_tokens: Input should be a valid integer")
        if max_tokens < 1:
            raise self._invalid("max_tokens: Input should be greater than or equal to 1")
        temperature = body.get("temperature")
        if temperature is not None and not (0 <= temperature <= 1):
            raise self._invalid("temperature: Input should be less than or equal to 1")
        if "stream" in body and not isinstance(body["stream"], bool):
            raise self._invalid("stream: Input should be a valid boolean")
        self._check_system(body)
        has_tools = self._check_tools(body)
        self._check_messages(body, has_tools)

    def _check_system(self, body: dict[str, Any]) -> None:
        system = body.get("system")
        if system is None or isinstance(system, str):
            return
        if not isinstance(system, list):
            raise self._invalid("system: Input should be a valid list")
        for index, block in enumerate(system):
            if not isinstance(block, dict) or block.get("type") != "text":
                raise self._invalid(f"system.{index}: Input tag does not match 'text'")
            if not block.get("text"):
                raise self._invalid("system: text content blocks must be non-empty")

    def _check_tools(self, body: dict[str, Any]) -> bool:
        if "tools" not in body:
            return False
        tools = body["tools"]
        if not isinstance(tools, list):
            raise self._invalid("tools: Input should be a valid list")
        if not tools:
            # The real API tolerates []; rejected here so the app never sends a meaningless
            # tools field (some providers and proxies refuse it).
            raise self._invalid("tools: List should have at least 1 item after validation, not 0")
        for index, tool in enumerate(tools):
            if not isinstance(tool, dict):
                raise self._invalid(f"tools.{index}: Input should be a valid dictionary")
            tool_type = tool.get("type", "custom")
            if tool_type != "custom":
                continue  # a server tool such as web_search_20250305
            name = tool.get("name")
            if not isinstance(name, str) or not TOOL_NAME.match(name):
                raise self._invalid(
                    f"tools.{index}.custom.name: String should match pattern "
                    "'^[a-zA-Z0-9_-]{1,128}$'"
                )
            schema = tool.get("input_schema")
            if not isinstance(schema, dict):
                raise self._invalid(f"tools.{index}.custom.input_schema: Field required")
            if schema.get("type") != "object":
                raise self._invalid(
                    f"tools.{index}.custom.input_schema.type: Input should be 'object'"
                )
        return True

    def _check_messages(self, body: dict[str, Any], has_tools: bool) -> None:
        messages = self._message_list(body)
        previous_role = None
        # The index of the last assistant message with tool_use blocks, and their ids.
        pending_tool_uses: tuple[int, list[str]] | None = None
        for index, message in enumerate(messages):
            previous_role = self._check_role(index, message, previous_role)
            is_final = index == len(messages) - 1
            blocks = self._check_content(index, message, is_final=is_final, has_tools=has_tools)
            self._check_tool_results(index, blocks, pending_tool_uses)
            uses = [str(b.get("id")) for b in blocks if b.get("type") == "tool_use"]
            pending_tool_uses = (index, uses) if uses else None
        # A trailing tool_use is fine only as a prefill; the model cannot answer its own call.
        if pending_tool_uses is not None:
            raise self._unanswered_tool_uses(*pending_tool_uses)

    def _message_list(self, body: dict[str, Any]) -> list[Any]:
        if "messages" not in body:
            raise self._invalid("messages: Field required")
        messages = body["messages"]
        if not isinstance(messages, list):
            raise self._invalid("messages: Input should be a valid list")
        if not messages:
            raise self._invalid("messages: at least one message is required")
        return messages

    def _check_role(self, index: int, message: Any, previous_role: str | None) -> str:
        """The message's role, if it is one the conversation may have here."""
        if not isinstance(message, dict):
            raise self._invalid(f"messages.{index}: Input should be a valid dictionary")
        role = message.get("role")
        if role == "system":
            raise self._invalid(
                'messages: Unexpected role "system". The Messages API accepts a top-level '
                '`system` parameter, not "system" as an input message role.'
            )
        if role not in ("user", "assistant"):
            raise self._invalid(f"messages.{index}.role: Input should be 'user' or 'assistant'")
        if index == 0 and role != "user":
            raise self._invalid('messages: first message must use the "user" role')
        if role == previous_role:
            raise self._invalid(
                'messages: roles must alternate between "user" and "assistant", but found '
                f'multiple "{role}" roles in a row'
            )
        return role

    def _check_content(
        self, index: int, message: dict[str, Any], *, is_final: bool, has_tools: bool
    ) -> list[dict[str, Any]]:
        """The message's content blocks, if the API accepts them."""
        content = message.get("content")
        if not isinstance(content, str | list):
            raise self._invalid(f"messages.{index}.content: Field required")
        blocks = _blocks(content)
        is_final_assistant = message["role"] == "assistant" and is_final
        if not blocks and not is_final_assistant:
            raise self._invalid(
                f"messages.{index}: all messages must have non-empty content except for "
                "the optional final assistant message"
            )
        for block in blocks:
            if block.get("type") == "text" and not block.get("text"):
                raise self._invalid("messages: text content blocks must be non-empty")
        if is_final_assistant and _text_of(content) != _text_of(content).rstrip():
            raise self._invalid(
                "messages: final assistant content cannot end with trailing whitespace"
            )
        if not has_tools and any(block.get("type") in TOOL_BLOCK_TYPES for block in blocks):
            raise self._invalid(
                "Requests which include `tool_use` or `tool_result` blocks must define tools."
            )
        return blocks

    def _check_tool_results(
        self,
        index: int,
        blocks: list[dict[str, Any]],
        pending_tool_uses: tuple[int, list[str]] | None,
    ) -> None:
        """Every pending tool_use answered in this message, and nothing else answered."""
        results = [b.get("tool_use_id") for b in blocks if b.get("type") == "tool_result"]
        if pending_tool_uses is not None:
            use_index, ids = pending_tool_uses
            missing = [tool_id for tool_id in ids if tool_id not in results]
            if missing:
                raise self._unanswered_tool_uses(use_index, missing)
        expected = pending_tool_uses[1] if pending_tool_uses else []
        for tool_id in results:
            if tool_id not in expected:
                raise self._invalid(
                    f"messages.{index}: unexpected `tool_use_id` found in `tool_result` "
                    f"blocks: {tool_id}. Each `tool_result` block must have a corresponding "
                    "`tool_use` block in the previous message."
                )

    def _unanswered_tool_uses(self, use_index: int, ids: list[str]) -> ProviderError:
        return self._invalid(
            f"messages.{use_index}: `tool_use` ids were found without `tool_result` blocks "
            f"immediately after: {', '.join(ids)}. Each `tool_use` block must have a "
            "corresponding `tool_result` block in the next message."
        )

    # ------------------------------------------------------------------ answers

    def _new_ids(self, reply: Reply) -> tuple[str, str]:
        message_id = f"msg_fake{self.next_id():04d}{uuid.uuid4().hex[:12]}"
        tool_id = reply.tool_call_id or f"toolu_fake{uuid.uuid4().hex[:16]}"
        return message_id, tool_id

    @staticmethod
    def _stop_reason(reply: Reply) -> str:
        if reply.kind == "tool_call":
            return "tool_use"
        return "max_tokens" if reply.truncated else "end_turn"

    def stream_frames(self, call: RecordedRequest, reply: Reply) -> Iterator[Frame]:
        message_id, tool_id = self._new_ids(reply)
        cache = self.cache_usage(call)
        yield self._message_start(call, reply, message_id, cache)
        index = 0
        # The real stream pings once, right after the first content block opens.
        pinged = False
        text_chunks = reply.text_chunks()
        if text_chunks:
            yield from self._text_block(index, text_chunks)
            pinged = True
            index += 1
        if reply.kind == "tool_call":
            yield from self._tool_use_block(index, reply, tool_id, ping=not pinged)
            pinged = True
        if not pinged:
            yield self._ping()
        yield self._message_delta(reply, cache)
        yield Frame(sse({"type": "message_stop"}, "message_stop"))

    @staticmethod
    def _message_start(
        call: RecordedRequest, reply: Reply, message_id: str, cache: dict[str, int]
    ) -> Frame:
        usage_start = {
            "input_tokens": reply.input_tokens,
            **cache,
            "output_tokens": 1,
            "service_tier": "standard",
        }
        message = {
            "id": message_id,
            "type": "message",
            "role": "assistant",
            "model": call.model,
            "content": [],
            "stop_reason": None,
            "stop_sequence": None,
            "usage": usage_start,
        }
        return Frame(sse({"type": "message_start", "message": message}, "message_start"))

    def _text_block(self, index: int, text_chunks: list[str]) -> Iterator[Frame]:
        yield self._block_start(index, {"type": "text", "text": ""})
        yield self._ping()
        for piece in text_chunks:
            yield self._delta(index, {"type": "text_delta", "text": piece})
        yield self._block_stop(index)

    def _tool_use_block(
        self, index: int, reply: Reply, tool_id: str, *, ping: bool
    ) -> Iterator[Frame]:
        # The block start names the tool, so it is output the client sees: a content frame.
        yield self._block_start(
            index,
            {"type": "tool_use", "id": tool_id, "name": reply.tool_name, "input": {}},
            content=True,
        )
        if ping:
            yield self._ping()
        # The real stream opens every tool block with an empty fragment.
        yield Frame(
            sse(
                {
                    "type": "content_block_delta",
                    "index": index,
                    "delta": {"type": "input_json_delta", "partial_json": ""},
                },
                "content_block_delta",
            )
        )
        for fragment in reply.argument_fragments():
            yield self._delta(index, {"type": "input_json_delta", "partial_json": fragment})
        yield self._block_stop(index)

    def _message_delta(self, reply: Reply, cache: dict[str, int]) -> Frame:
        return Frame(
            sse(
                {
                    "type": "message_delta",
                    "delta": {"stop_reason": self._stop_reason(reply), "stop_sequence": None},
                    "usage": {
                        "input_tokens": reply.input_tokens,
                        **cache,
                        "output_tokens": reply.completion_tokens(),
                    },
                },
                "message_delta",
            )
        )

    @staticmethod
    def _ping() -> Frame:
        return Frame(sse({"type": "ping"}, "ping"))

    @staticmethod
    def _block_start(index: int, block: dict[str, Any], *, content: bool = False) -> Frame:
        return Frame(
            sse(
                {"type": "content_block_start", "index": index, "content_block": block},
                "content_block_start",
            ),
            content=content,
        )

    @staticmethod
    def _delta(index: int, delta: dict[str, Any]) -> Frame:
        return Frame(
            sse(
                {"type": "content_block_delta", "index": index, "delta": delta},
                "content_block_delta",
            ),
            content=True,
        )

    @staticmethod
    def _block_stop(index: int) -> Frame:
        return Frame(sse({"type": "content_block_stop", "index": index}, "content_block_stop"))

    def complete_body(self, call: RecordedRequest, reply: Reply) -> dict[str, Any]:
        message_id, tool_id = self._new_ids(reply)
        content: list[dict[str, Any]] = []
        if reply.kind in ("text", "tool_call") and reply.reply_text:
            content.append({"type": "text", "text": reply.reply_text})
        if reply.kind == "tool_call":
            try:
                arguments = json.loads(reply.arguments)
            except ValueError:
                arguments = {}
            content.append(
                {"type": "tool_use", "id": tool_id, "name": reply.tool_name, "input": arguments}
            )
        return {
            "id": message_id,
            "type": "message",
            "role": "assistant",
            "model": call.model,
            "content": content,
            "stop_reason": self._stop_reason(reply),
            "stop_sequence": None,
            "usage": {
                "input_tokens": reply.input_tokens,
                **self.cache_usage(call),
                "output_tokens": reply.completion_tokens(),
            },
        }
