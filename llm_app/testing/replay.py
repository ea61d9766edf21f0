"""Real provider responses, recorded by other projects, served back at each provider's real path.

The recordings live outside the repository, in ``../shared/replay`` beside the checkout (their
provenance is in each ``NAME.meta.json``; the files are not ours to copy). A
:class:`ReplayServer` serves one recording per request on 127.0.0.1: ``sse`` bodies byte for
byte, ``jsonl`` bodies (vercel/ai's one-payload-a-line format) with the SSE framing rebuilt the
provider's way, ``http`` bodies as the recorded status and JSON error. LiteLLM reaches it through
``api_base``, so every recording is read by LiteLLM's real parser for that provider.
"""

from __future__ import annotations

import json
import os
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

import pytest
from aiohttp import web

from llm_app.testing.server import FakeProviderServer, ProviderError

# The repository's parent holds ``shared/`` in CI and on the development machine.
REPO_ROOT = Path(__file__).resolve().parents[2]
REPLAY_DIR = Path(os.environ.get("TUTOR_REPLAY_DIR", REPO_ROOT.parent / "shared" / "replay"))
RECORDINGS_DIR = REPLAY_DIR / "recordings"

# Where each provider's streaming endpoint is, under the server's root (as the real API's).
ANTHROPIC_PATH = "/v1/messages"
OPENAI_PATH = "/v1/chat/completions"
GEMINI_PATH = "/v1beta/models/{model}:streamGenerateContent"
# The api_base LiteLLM is given for each provider, relative to the server's root.
BASE_PATHS = {"anthropic": "", "gemini": "/v1beta", "openai": "/v1"}


@dataclass(frozen=True)
class Recording:
    """One recorded response and what its ``.meta.json`` says about it."""

    name: str
    provider: str
    model: str
    body_format: str
    body: bytes
    status: int = 200
    content_type: str = "application/json"
    fragment: bool = False

    @classmethod
    def load(cls, name: str, directory: Path = RECORDINGS_DIR) -> Recording:
        meta = json.loads((directory / f"{name}.meta.json").read_text(encoding="utf-8"))
        return cls(
            name=meta["name"],
            provider=meta["provider"],
            model=meta["model"],
            body_format=meta["body_format"],
            body=(directory / meta["body_file"]).read_bytes(),
            status=int(meta.get("status", 200)),
            content_type=meta.get("content_type", "application/json"),
            fragment=bool(meta.get("fragment", False)),
        )

    def wire_body(self) -> bytes:
        """The bytes the provider sent: as recorded, or with the SSE framing rebuilt."""
        if self.body_format != "jsonl":
            return self.body
        frames = []
        for line in self.body.decode("utf-8").splitlines():
            if not line.strip():
                continue
            if self.provider == "anthropic":
                event = json.loads(line)["type"]
                frames.append(f"event: {event}\ndata: {line}\n\n")
            elif self.provider == "gemini":
                frames.append(f"data: {line}\r\n\r\n")
            else:
                frames.append(f"data: {line}\n\n")
        if self.provider == "openai":
            frames.append("data: [DONE]\n\n")
        return "".join(frames).encode("utf-8")


@dataclass
class RecordedReply:
    """What a recording holds, read straight from its payloads (not through LiteLLM).

    The contract tests compare what ``stream_chat`` made of a recording with this, so
    each expectation comes from the provider's bytes rather than being typed in.
    """

    text: str = ""
    reasoning: list[str] = field(default_factory=list)
    tool_names: list[str] = field(default_factory=list)
    refusal: str = ""
    input_tokens: int | None = None
    output_tokens: int | None = None


def payloads(recording: Recording) -> list[dict[str, Any]]:
    """Every JSON event payload of the recording's stream, in order."""
    found = []
    for line in recording.wire_body().decode("utf-8").splitlines():
        if not line.startswith("data:"):
            continue
        try:
            payload = json.loads(line.removeprefix("data:"))
        except ValueError:  # [DONE]
            continue
        if isinstance(payload, dict):
            found.append(payload)
    return found


def recorded_reply(recording: Recording) -> RecordedReply:
    """The reply's text, reasoning, tool names and token counts as the provider sent them."""
    reply = RecordedReply()
    read = {"anthropic": _read_anthropic, "gemini": _read_gemini, "openai": _read_openai}
    for payload in payloads(recording):
        read[recording.provider](payload, reply)
    return reply


def _read_anthropic(payload: dict[str, Any], reply: RecordedReply) -> None:
    kind = payload.get("type")
    if kind == "message_start":
        reply.input_tokens = payload["message"]["usage"]["input_tokens"]
    elif kind == "content_block_start":
        block = payload["content_block"]
        if block["type"] == "tool_use":
            reply.tool_names.append(block["name"])
        elif block["type"] == "redacted_thinking":
            reply.reasoning.append(block["data"])
        elif block["type"] == "thinking" and block.get("thinking"):
            reply.reasoning.append(block["thinking"])
    elif kind == "content_block_delta":
        delta = payload["delta"]
        if delta["type"] == "text_delta":
            reply.text += delta["text"]
        elif delta["type"] == "thinking_delta":
            reply.reasoning.append(delta["thinking"])
    elif kind == "message_delta":
        reply.output_tokens = payload["usage"]["output_tokens"]


def _read_gemini(payload: dict[str, Any], reply: RecordedReply) -> None:
    for candidate in payload.get("candidates", []):
        for part in candidate.get("content", {}).get("parts", []):
            if "functionCall" in part:
                reply.tool_names.append(part["functionCall"]["name"])
            elif part.get("thought"):
                reply.reasoning.append(part["text"])
            elif "text" in part:
                reply.text += part["text"]
    usage = payload.get("usageMetadata")
    if usage and "candidatesTokenCount" in usage:
        reply.input_tokens = usage["promptTokenCount"]
        # LiteLLM counts the thinking tokens as output, as Google bills them.
        reply.output_tokens = usage["candidatesTokenCount"] + usage.get("thoughtsTokenCount", 0)


def _read_openai(payload: dict[str, Any], reply: RecordedReply) -> None:
    for choice in payload.get("choices") or []:
        delta = choice.get("delta") or {}
        reply.text += delta.get("content") or ""
        reply.refusal += delta.get("refusal") or ""
        for call in delta.get("tool_calls") or []:
            name = (call.get("function") or {}).get("name")
            if name:
                reply.tool_names.append(name)
    usage = payload.get("usage")
    if usage:
        reply.input_tokens = usage["prompt_tokens"]
        reply.output_tokens = usage["completion_tokens"]


def recording_names(directory: Path = RECORDINGS_DIR) -> list[str]:
    """Every recording in ``directory``, by name, sorted (none if it is missing)."""
    return sorted(path.name.removesuffix(".meta.json") for path in directory.glob("*.meta.json"))


def require_recordings() -> None:
    """Skip without the recordings locally; in CI (``CI`` set), fail: they must be there."""
    if RECORDINGS_DIR.is_dir():
        return
    reason = f"the replay recordings are not at {RECORDINGS_DIR} (clone ../shared beside the repo)"
    if os.environ.get("CI", "").lower() in {"1", "true", "yes"}:
        pytest.fail(f"{reason}; CI must have them")
    pytest.skip(reason)


class ReplayServer(FakeProviderServer):
    """A local server that answers each request with the next queued recording.

    It keeps the fake servers' lifecycle and request records, and checks only what the
    routing needs (the path and, for streams, that a stream was asked for): a recording
    is evidence of what the provider sends, not of what it accepts.
    """

    kind: ClassVar[str] = "replay"

    def __init__(self, provider: str, **options: Any) -> None:
        super().__init__(**options)
        self.provider = provider
        self.base_path = BASE_PATHS[provider]
        self._recordings: deque[Recording] = deque()

    def play(self, *recordings: Recording) -> ReplayServer:
        """Queue recordings for the next requests, first in first out."""
        with self._changed:
            self._recordings.extend(recordings)
        return self

    def routes(self) -> list[web.AbstractRouteDef]:
        path = {
            "anthropic": ANTHROPIC_PATH,
            "gemini": GEMINI_PATH,
            "openai": OPENAI_PATH,
        }[self.provider]
        return [web.post(path, self._answer)]

    async def _answer(self, request: web.Request) -> web.StreamResponse:
        call = self._record(request, await request.read())
        with self._changed:
            recording = self._recordings.popleft() if self._recordings else None
        if recording is None:
            return self._refuse(call, 500, "no recording queued")
        if recording.provider != self.provider:
            return self._refuse(call, 500, f"{recording.name} is not a {self.provider} answer")
        call.status = recording.status
        call.completed = True
        self._notify()
        if recording.body_format == "http":
            return web.Response(
                body=recording.body, status=recording.status, content_type=recording.content_type
            )
        response = web.StreamResponse(
            status=200, headers={"Content-Type": "text/event-stream; charset=utf-8"}
        )
        await response.prepare(request)
        await response.write(recording.wire_body())
        await response.write_eof()
        return response

    def error(self, status: int, message: str | None = None) -> ProviderError:
        return ProviderError(status, {"error": message or f"HTTP {status}"})

    def _refuse(self, call: Any, status: int, message: str) -> web.Response:
        call.status = status
        call.error = {"error": message}
        self._notify()
        return web.json_response(call.error, status=status)
