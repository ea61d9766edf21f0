"""What one provider call has streamed so far, read from LiteLLM's OpenAI-shaped chunks."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import litellm

logger = logging.getLogger(__name__)


def _text_of(value: Any) -> str:
    """``value`` if it is a non-empty string, else empty (also for test doubles)."""
    return value if isinstance(value, str) else ""


@dataclass
class StreamedReply:
    """What one call has received so far; ``now`` times the first token."""

    now: Callable[[], float] = time.monotonic
    first_token_at: float | None = None
    streamed_text: bool = False
    tool_names: dict[int, str] = field(default_factory=dict)
    finish_reason: str | None = None
    usage: litellm.Usage | None = None

    @property
    def started(self) -> bool:
        return self.first_token_at is not None

    def mark_token(self) -> None:
        if self.first_token_at is None:
            self.first_token_at = self.now()

    def take(self, chunk: Any) -> str:
        """Record one stream chunk; return its text, if any."""
        usage = getattr(chunk, "usage", None)
        if isinstance(usage, litellm.Usage) and usage.completion_tokens is not None:
            self.usage = usage
        choices = getattr(chunk, "choices", None)
        if not choices:
            return ""
        choice = choices[0]
        self.finish_reason = _text_of(getattr(choice, "finish_reason", None)) or self.finish_reason
        delta = getattr(choice, "delta", None)
        if delta is None:
            return ""
        content = _text_of(delta.content)
        if content:
            self.mark_token()
            self.streamed_text = True
        for position, tool_call in enumerate(delta.tool_calls or []):
            index = tool_call.index if isinstance(tool_call.index, int) else position
            function = tool_call.function
            name = _text_of(function.name) if function is not None else ""
            if name:
                self.mark_token()
                self.tool_names.setdefault(index, name)
        return content


async def close_stream(response: Any) -> None:
    """Close the provider stream so an abandoned reply stops upstream too."""
    for closer in ("aclose", "close"):
        method = getattr(response, closer, None)
        if method is None:
            continue
        try:
            result = method()
            if asyncio.iscoroutine(result):
                await result
        except Exception:
            logger.debug("Closing the provider stream failed", exc_info=True)
        return
