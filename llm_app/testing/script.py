"""Scripted replies for the fake provider servers.

A `Reply` says what the next request should get back, independent of the wire format: each
server renders it in its own provider's shape. Tests queue replies with `server.enqueue(...)`.
"""

from __future__ import annotations

import dataclasses
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

ReplyKind = Literal["text", "tool_call", "error", "empty"]

DEFAULT_TEXT = "Hello! I am a fake tutor reply."
DEFAULT_INPUT_TOKENS = 25

_WORDS = re.compile(r"\S+\s*|\s+")


def split_text(text: str, parts: int) -> list[str]:
    """Split text into `parts` non-empty pieces on word boundaries when there are enough words.

    Joined back together the pieces are exactly `text`, so tests can compare the reassembled
    stream with what they queued.
    """
    if not text:
        return []
    parts = max(1, min(parts, len(text)))
    words = _WORDS.findall(text)
    if len(words) < parts:
        return split_evenly(text, parts)
    size, extra = divmod(len(words), parts)
    pieces: list[str] = []
    start = 0
    for index in range(parts):
        end = start + size + (1 if index < extra else 0)
        pieces.append("".join(words[start:end]))
        start = end
    return pieces


def split_evenly(text: str, parts: int) -> list[str]:
    """Split a string into `parts` pieces by characters, ignoring token boundaries.

    Tool-call arguments arrive from real providers cut at arbitrary characters, mid-string and
    mid-key, which is exactly what a client's JSON accumulation has to survive.
    """
    if not text:
        return []
    parts = max(1, min(parts, len(text)))
    size, extra = divmod(len(text), parts)
    pieces: list[str] = []
    start = 0
    for index in range(parts):
        end = start + size + (1 if index < extra else 0)
        pieces.append(text[start:end])
        start = end
    return pieces


@dataclass(frozen=True)
class Reply:
    """One scripted response. Build with the class methods rather than the constructor.

    Timing: `response_delay` holds back the HTTP status line and headers, `first_token_delay`
    holds back the first content chunk (after the stream's framing has been sent), and
    `chunk_delay` spaces the following content chunks. `cut_at` drops the connection,
    without a proper end of stream, once that many content chunks have been sent.
    `pause_at` holds the stream after that many content chunks until the test calls
    `server.resume()`: a reply that is certainly in progress, without guessing at delays.
    """

    kind: ReplyKind = "text"
    reply_text: str = DEFAULT_TEXT
    chunks: int = 3
    tool_name: str = ""
    arguments: str = "{}"
    fragments: int = 3
    tool_call_id: str | None = None
    status: int = 200
    message: str | None = None
    cut_at: int | None = None
    pause_at: int | None = None
    truncated: bool = False
    first_token_delay: float = 0.0
    chunk_delay: float = 0.0
    response_delay: float = 0.0
    input_tokens: int = DEFAULT_INPUT_TOKENS
    output_tokens: int | None = None

    def __post_init__(self) -> None:
        if self.kind not in ("text", "tool_call", "error", "empty"):
            raise ValueError(f"unknown reply kind {self.kind!r}")
        if self.chunks < 1 or self.fragments < 1:
            raise ValueError("chunks and fragments must be at least 1")
        if self.kind == "tool_call" and not self.tool_name:
            raise ValueError("a tool call needs a tool name")
        if self.kind == "error" and self.status < 400:
            raise ValueError("an error reply needs an HTTP status of 400 or more")
        if self.cut_at is not None and self.cut_at < 0:
            raise ValueError("cut_at must be zero or more")
        if self.pause_at is not None and self.pause_at < 0:
            raise ValueError("pause_at must be zero or more")
        for delay in (self.first_token_delay, self.chunk_delay, self.response_delay):
            if delay < 0:
                raise ValueError("delays must be zero or more")

    # ------------------------------------------------------------------ factories

    @classmethod
    def text(
        cls,
        text: str = DEFAULT_TEXT,
        *,
        chunks: int = 3,
        first_token_delay: float = 0.0,
        chunk_delay: float = 0.0,
        response_delay: float = 0.0,
        truncated: bool = False,
        pause_at: int | None = None,
        input_tokens: int = DEFAULT_INPUT_TOKENS,
        output_tokens: int | None = None,
    ) -> Reply:
        """A plain text answer streamed in `chunks` pieces.

        `truncated=True` ends it as if max_tokens was hit (Anthropic `max_tokens`, Gemini
        `MAX_TOKENS`, OpenAI `length`).
        """
        return cls(
            kind="text",
            reply_text=text,
            chunks=chunks,
            first_token_delay=first_token_delay,
            chunk_delay=chunk_delay,
            response_delay=response_delay,
            truncated=truncated,
            pause_at=pause_at,
            input_tokens=input_tokens,
            output_tokens=output_tokens,
        )

    @classmethod
    def tool_call(
        cls,
        name: str,
        arguments: str | Mapping[str, Any] = "{}",
        *,
        fragments: int = 3,
        text: str = "",
        chunks: int = 2,
        call_id: str | None = None,
        first_token_delay: float = 0.0,
        chunk_delay: float = 0.0,
        response_delay: float = 0.0,
        cut_at: int | None = None,
        input_tokens: int = DEFAULT_INPUT_TOKENS,
        output_tokens: int | None = None,
    ) -> Reply:
        """A call of tool `name`, optionally preceded by `text`.

        `arguments` (a JSON string, or a mapping that is dumped compactly) is cut into
        `fragments` pieces where the wire format streams arguments (Anthropic input_json_delta,
        OpenAI tool_calls deltas); Gemini always sends a functionCall whole. `cut_at` drops
        the connection after that many content chunks: the text chunks, the chunk naming the
        tool, then the argument fragments.
        """
        if not isinstance(arguments, str):
            arguments = json.dumps(dict(arguments), separators=(",", ":"))
        return cls(
            kind="tool_call",
            reply_text=text,
            chunks=chunks,
            tool_name=name,
            arguments=arguments,
            fragments=fragments,
            tool_call_id=call_id,
            first_token_delay=first_token_delay,
            chunk_delay=chunk_delay,
            response_delay=response_delay,
            cut_at=cut_at,
            input_tokens=input_tokens,
            output_tokens=output_tokens,
        )

    @classmethod
    def error(
        cls, status: int, message: str | None = None, *, response_delay: float = 0.0
    ) -> Reply:
        """An HTTP error answered before any streaming, in the provider's own error shape."""
        return cls(kind="error", status=status, message=message, response_delay=response_delay)

    @classmethod
    def cut_after(
        cls,
        chunks_sent: int,
        text: str = DEFAULT_TEXT + " This part never arrives.",
        *,
        chunks: int | None = None,
        first_token_delay: float = 0.0,
        chunk_delay: float = 0.0,
    ) -> Reply:
        """Send `chunks_sent` text chunks, then close the connection mid-stream.

        The stream's end markers (message_stop, finishReason, [DONE]) are never sent, and the
        chunked HTTP body is left unterminated, as when a proxy or the provider drops a
        connection.
        """
        total = chunks if chunks is not None else chunks_sent + 2
        if total <= chunks_sent:
            raise ValueError("a cut stream needs more chunks than it sends")
        return cls(
            kind="text",
            reply_text=text,
            chunks=total,
            cut_at=chunks_sent,
            first_token_delay=first_token_delay,
            chunk_delay=chunk_delay,
        )

    @classmethod
    def empty(cls, *, response_delay: float = 0.0) -> Reply:
        """A well-formed stream that carries no content at all, only the framing."""
        return cls(kind="empty", reply_text="", response_delay=response_delay, output_tokens=0)

    # ------------------------------------------------------------------ helpers

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Reply:
        """Build a reply from plain JSON (used by the control endpoint for out-of-process tests)."""
        known = {field.name for field in dataclasses.fields(cls)}
        unknown = set(data) - known
        if unknown:
            raise ValueError(f"unknown reply fields: {sorted(unknown)}")
        values = dict(data)
        if values.get("kind") in ("tool_call", "error", "empty"):
            values.setdefault("reply_text", "")  # as the factories do: no text unless asked
        if isinstance(values.get("arguments"), Mapping):
            values["arguments"] = json.dumps(values["arguments"], separators=(",", ":"))
        return cls(**values)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    def text_chunks(self) -> list[str]:
        if self.kind not in ("text", "tool_call"):
            return []
        return split_text(self.reply_text, self.chunks)

    def argument_fragments(self) -> list[str]:
        return split_evenly(self.arguments, self.fragments)

    def completion_tokens(self) -> int:
        if self.output_tokens is not None:
            return self.output_tokens
        estimate = len(self.reply_text.split())
        if self.kind == "tool_call":
            estimate += max(1, len(self.arguments) // 4) + 5
        return max(1, estimate)
