"""A fake Gemini API (Google AI Studio): POST /v1beta/models/{model}:streamGenerateContent?alt=sse.

LiteLLM's `gemini/` route with an api_base posts to {api_base}/models/{model}:{method}, with no
version segment of its own, so `url` here ends in /v1beta, like the real service's base
URL. The key comes as the x-goog-api-key header
(LiteLLM's way) or the `key` query parameter; `key_source` records which.
"""

from __future__ import annotations

import json
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
)

API_VERSIONS = ("v1beta", "v1alpha", "v1")
STREAM_METHOD = "streamGenerateContent"
COMPLETE_METHOD = "generateContent"

# Google's JSON parser rejects unknown fields; proto3 JSON accepts both spellings of each name,
# and LiteLLM sends the snake_case ones (system_instruction, generationConfig.max_output_tokens).
TOP_LEVEL_FIELDS = frozenset(
    {
        "contents",
        "tools",
        "toolConfig",
        "tool_config",
        "safetySettings",
        "safety_settings",
        "systemInstruction",
        "system_instruction",
        "generationConfig",
        "generation_config",
        "cachedContent",
        "cached_content",
    }
)
ROLES = {"user": "user", "model": "assistant"}

STATUSES = {
    400: "INVALID_ARGUMENT",
    401: "UNAUTHENTICATED",
    403: "PERMISSION_DENIED",
    404: "NOT_FOUND",
    409: "ABORTED",
    429: "RESOURCE_EXHAUSTED",
    499: "CANCELLED",
    500: "INTERNAL",
    501: "NOT_IMPLEMENTED",
    503: "UNAVAILABLE",
    504: "DEADLINE_EXCEEDED",
}
DEFAULT_MESSAGES = {
    400: "Request contains an invalid argument.",
    401: (
        "Request had invalid authentication credentials. Expected OAuth 2 access token, login "
        "cookie or other valid authentication credential."
    ),
    403: "The caller does not have permission",
    404: "Requested entity was not found.",
    429: (
        "You exceeded your current quota, please check your plan and billing details. "
        "Resource has been exhausted (e.g. check quota)."
    ),
    500: "An internal error has occurred. Please retry or report it.",
    503: "The model is overloaded. Please try again later.",
    504: "Deadline expired before operation could complete.",
}
INVALID_KEY_MESSAGE = "API key not valid. Please pass a valid API key."
# Google names each error detail's message type with a type URL under its own API host.
# The fake keeps the structure and the type names but no real host (tests reach only
# 127.0.0.1, and nothing reads these URLs): a reserved .invalid name stands in for it,
# here and in ErrorInfo's domain and service.
FAKE_GOOGLE_HOST = "fake-gemini.invalid"
DETAIL_TYPE_PREFIX = f"type.{FAKE_GOOGLE_HOST}/"
MISSING_KEY_MESSAGE = (
    "Method doesn't allow unregistered callers (callers without established identity). "
    "Please use API Key or other form of API consumer identity to call this API."
)


def _field(mapping: dict[str, Any], camel: str, snake: str) -> Any:
    return mapping.get(camel, mapping.get(snake))


def _parts(content: Any) -> list[dict[str, Any]]:
    if not isinstance(content, dict):
        return []
    parts = content.get("parts")
    return [part for part in parts if isinstance(part, dict)] if isinstance(parts, list) else []


def _has(part: dict[str, Any], camel: str, snake: str) -> bool:
    return camel in part or snake in part


class GeminiDialect(Dialect):
    @staticmethod
    def model(call: RecordedRequest) -> str | None:
        return call.route.get("model")

    @staticmethod
    def system(call: RecordedRequest) -> str | None:
        instruction = _field(call.json, "systemInstruction", "system_instruction")
        if instruction is None:
            return None
        return "".join(part.get("text", "") for part in _parts(instruction))

    @staticmethod
    def messages(call: RecordedRequest) -> list[dict[str, Any]]:
        contents = call.json.get("contents")
        return contents if isinstance(contents, list) else []

    @staticmethod
    def roles(call: RecordedRequest) -> list[str]:
        roles = []
        for content in GeminiDialect.messages(call):
            parts = _parts(content)
            if parts and all(_has(p, "functionResponse", "function_response") for p in parts):
                roles.append("tool")
            else:
                roles.append(ROLES.get(content.get("role", "user"), str(content.get("role"))))
        return roles

    @staticmethod
    def tools(call: RecordedRequest) -> list[dict[str, Any]] | None:
        """The function declarations, flattened out of Gemini's tools[].functionDeclarations."""
        tools = call.json.get("tools")
        if not isinstance(tools, list):
            return tools
        declarations: list[dict[str, Any]] = []
        for tool in tools:
            if isinstance(tool, dict):
                declarations.extend(
                    _field(tool, "functionDeclarations", "function_declarations") or []
                )
        return declarations

    @staticmethod
    def tool_names(call: RecordedRequest) -> list[str]:
        return [tool.get("name", "") for tool in GeminiDialect.tools(call) or []]

    @staticmethod
    def max_tokens(call: RecordedRequest) -> int | None:
        config = _field(call.json, "generationConfig", "generation_config") or {}
        return _field(config, "maxOutputTokens", "max_output_tokens")

    @staticmethod
    def stream(call: RecordedRequest) -> bool:
        return call.route.get("method") == STREAM_METHOD


class FakeGeminiServer(FakeProviderServer):
    kind: ClassVar[str] = "gemini"
    base_path: ClassVar[str] = "/v1beta"
    dialect: ClassVar[type[Dialect]] = GeminiDialect

    def routes(self) -> list[web.AbstractRouteDef]:
        return [web.post("/{version}/models/{model_and_method}", self._serve_model)]

    async def _serve_model(self, request: web.Request) -> web.StreamResponse:
        model, _, method = request.match_info["model_and_method"].rpartition(":")
        version = request.match_info["version"]
        if version not in API_VERSIONS or method not in (STREAM_METHOD, COMPLETE_METHOD):
            return await self._unknown_path(request)
        # Expose the pieces through match_info so the recorded request carries them.
        request.match_info["model"] = model
        request.match_info["method"] = method
        return await self.serve(request)

    def _route_streams(self, call: RecordedRequest) -> bool:
        return call.route.get("method") == STREAM_METHOD

    def _sse(self, call: RecordedRequest) -> bool:
        return call.query.get("alt") == "sse"

    def stream_content_type(self, call: RecordedRequest) -> str:
        return "text/event-stream" if self._sse(call) else "application/json; charset=UTF-8"

    # ------------------------------------------------------------------ errors

    def error(self, status: int, message: str | None = None) -> ProviderError:
        return self._google_error(status, message or DEFAULT_MESSAGES.get(status, "Error"))

    @staticmethod
    def _google_error(
        status: int, message: str, details: list[dict[str, Any]] | None = None
    ) -> ProviderError:
        error: dict[str, Any] = {
            "code": status,
            "message": message,
            "status": STATUSES.get(status, "UNAVAILABLE" if status >= 500 else "UNKNOWN"),
        }
        if details:
            error["details"] = details
        return ProviderError(status, {"error": error})

    def invalid_json(self, detail: str) -> ProviderError:
        return self._invalid(f"Invalid JSON payload received. {detail}")

    def not_found(self, path: str) -> ProviderError:
        return self.error(404, f"Requested entity was not found: {path}")

    def _invalid(self, message: str) -> ProviderError:
        return self._google_error(
            400,
            message,
            [
                {
                    "@type": f"{DETAIL_TYPE_PREFIX}google.rpc.BadRequest",
                    "fieldViolations": [{"description": message}],
                }
            ],
        )

    # ------------------------------------------------------------------ checks

    def authenticate(self, request: web.Request, call: RecordedRequest) -> None:
        header_key = request.headers.get("x-goog-api-key")
        query_key = request.query.get("key")
        if header_key:
            call.api_key, call.key_source = header_key, "header:x-goog-api-key"
        elif query_key:
            call.api_key, call.key_source = query_key, "query:key"
        else:
            raise self.error(403, MISSING_KEY_MESSAGE)
        if self.required_key is not None and call.api_key != self.required_key:
            # Google answers a wrong key with 400, not 401.
            raise self._google_error(
                400,
                INVALID_KEY_MESSAGE,
                [
                    {
                        "@type": f"{DETAIL_TYPE_PREFIX}google.rpc.ErrorInfo",
                        "reason": "API_KEY_INVALID",
                        "domain": FAKE_GOOGLE_HOST,
                        "metadata": {"service": FAKE_GOOGLE_HOST},
                    },
                    {
                        "@type": f"{DETAIL_TYPE_PREFIX}google.rpc.LocalizedMessage",
                        "locale": "en-US",
                        "message": INVALID_KEY_MESSAGE,
                    },
                ],
            )

    def validate(self, call: RecordedRequest) -> None:
        body = call.json
        for name in body:
            if name not in TOP_LEVEL_FIELDS:
                raise self._invalid(
                    f'Invalid JSON payload received. Unknown name "{name}": Cannot find field.'
                )
        model = call.model or ""
        if self.known_models is not None and model not in self.known_models:
            version = call.route.get("version", "v1beta")
            raise self.error(
                404,
                f"models/{model} is not found for API version {version}, or is not supported "
                "for generateContent. Call ListModels to see the list of available models and "
                "their supported methods.",
            )
        has_tools = self._check_tools(body)
        self._check_contents(body, has_tools)

    def _check_tools(self, body: dict[str, Any]) -> bool:
        if "tools" not in body:
            return False
        tools = body["tools"]
        # Both rejections below are this fake's portable rules: send tools only when there are some.
        if tools is None:
            raise self._invalid(
                "* GenerateContentRequest.tools: tools must be a list of tools when present "
                "(null sent)"
            )
        if not isinstance(tools, list):
            raise self._invalid(
                f"Invalid value at 'tools' ({type(tools).__name__}), expected a list of \"Tool\""
            )
        if not tools:
            raise self._invalid("* GenerateContentRequest.tools: tools must not be empty")
        for index, tool in enumerate(tools):
            if not isinstance(tool, dict) or not tool:
                raise self._invalid(f"* GenerateContentRequest.tools[{index}]: tool is empty")
            declarations = _field(tool, "functionDeclarations", "function_declarations")
            for number, declaration in enumerate(declarations or []):
                if not isinstance(declaration, dict) or not declaration.get("name"):
                    raise self._invalid(
                        f"* GenerateContentRequest.tools[{index}].function_declarations"
                        f"[{number}].name: [FIELD_INVALID] Invalid function name."
                    )
        return True

    def _check_contents(self, body: dict[str, Any], has_tools: bool) -> None:
        contents = body.get("contents")
        if not contents:
            raise self._invalid("* GenerateContentRequest.contents: contents is not specified")
        if not isinstance(contents, list):
            raise self._invalid("Invalid value at 'contents', expected a list of \"Content\"")
        previous: str | None = None
        pending_calls = 0
        for index, content in enumerate(contents):
            if not isinstance(content, dict):
                raise self._invalid(f"Invalid value at 'contents[{index}]'")
            role = content.get("role", "user")
            if role not in ROLES:
                raise self._invalid("Please use a valid role: user, model.")
            parts = _parts(content)
            if not parts:
                raise self._invalid(
                    f"* GenerateContentRequest.contents[{index}].parts: contents.parts must not "
                    "be empty."
                )
            calls = sum(_has(part, "functionCall", "function_call") for part in parts)
            responses = sum(_has(part, "functionResponse", "function_response") for part in parts)
            if index == 0 and role != "user":
                raise self._invalid(
                    "Please ensure that the conversation starts with a user turn "
                    "(the first content has role 'model')."
                )
            if (calls or responses) and not has_tools:
                raise self._invalid(
                    "* GenerateContentRequest.contents: function call and function response "
                    "parts need tools with function_declarations in the same request."
                )
            if calls and previous == "model":
                raise self._invalid(
                    "Please ensure that function call turn comes immediately after a user turn "
                    "or after a function response turn."
                )
            if pending_calls and responses != pending_calls:
                raise self._invalid(
                    "Please ensure that the number of function response parts is equal to the "
                    "number of function call parts of the function call turn."
                )
            if responses and not pending_calls:
                raise self._invalid(
                    "Please ensure that function response turn comes immediately after a "
                    "function call turn."
                )
            pending_calls = calls
            previous = "function_response" if responses else role

    # ------------------------------------------------------------------ answers

    @staticmethod
    def _finish_reason(reply: Reply) -> str:
        return "MAX_TOKENS" if reply.truncated else "STOP"

    def _chunks(self, call: RecordedRequest, reply: Reply) -> list[dict[str, Any]]:
        """The GenerateContentResponse objects of the reply, the last one carrying the finish."""
        response_id = uuid.uuid4().hex[:22]
        part_lists: list[list[dict[str, Any]]] = [
            [{"text": piece}] for piece in reply.text_chunks()
        ]
        if reply.kind == "tool_call":
            try:
                arguments = json.loads(reply.arguments)
            except ValueError:
                arguments = {}
            part_lists.append([{"functionCall": {"name": reply.tool_name, "args": arguments}}])
        if not part_lists:
            part_lists = [[{"text": ""}]]
        prompt = reply.input_tokens
        chunks = []
        for number, parts in enumerate(part_lists):
            last = number == len(part_lists) - 1
            candidate: dict[str, Any] = {"content": {"parts": parts, "role": "model"}, "index": 0}
            usage: dict[str, Any] = {"promptTokenCount": prompt, "totalTokenCount": prompt}
            if last:
                candidate["finishReason"] = self._finish_reason(reply)
                output = reply.completion_tokens()
                usage = {
                    "promptTokenCount": prompt,
                    "candidatesTokenCount": output,
                    "totalTokenCount": prompt + output,
                    "promptTokensDetails": [{"modality": "TEXT", "tokenCount": prompt}],
                }
            chunks.append(
                {
                    "candidates": [candidate],
                    "usageMetadata": usage,
                    "modelVersion": call.model,
                    "responseId": response_id,
                }
            )
        return chunks

    def stream_frames(self, call: RecordedRequest, reply: Reply) -> Iterator[Frame]:
        chunks = self._chunks(call, reply)
        if self._sse(call):
            for chunk in chunks:
                yield Frame(f"data: {json.dumps(chunk)}\r\n\r\n".encode(), content=True)
            return
        # Without alt=sse the stream is one JSON array written element by element.
        for number, chunk in enumerate(chunks):
            opening = "[" if number == 0 else ",\r\n"
            yield Frame((opening + json.dumps(chunk)).encode(), content=True)
        yield Frame(b"]")

    def complete_body(self, call: RecordedRequest, reply: Reply) -> dict[str, Any]:
        chunks = self._chunks(call, reply)
        final = chunks[-1]
        parts = [part for chunk in chunks for part in chunk["candidates"][0]["content"]["parts"]]
        text = "".join(part.get("text", "") for part in parts)
        merged = [{"text": text}] if text else []
        merged += [part for part in parts if "functionCall" in part]
        final["candidates"][0]["content"]["parts"] = merged or [{"text": ""}]
        return final
