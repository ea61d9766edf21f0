"""What one provider call has streamed so far, read from LiteLLM's OpenAI-shaped chunks."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import litellm

from llm_app.seam.tool_calls import ToolCallParts, completed_tool_calls

logger = logging.getLogger(__name__)


def _text_of(value: Any) -> str:
    """``value`` if it is a non-empty string, else empty (also for test doubles)."""
    return value if isinstance(value, str) else ""


# LiteLLM's finish reason for a reply the provider's safety filter stopped.
CONTENT_FILTER_FINISH_REASON = "content_filter"


@dataclass
class StreamedReply:
    """What one call has received so far; ``now`` times the first token."""

    now: Callable[[], float] = time.monotonic
    first_token_at: float | None = None
    streamed_text: bool = False
    tool_calls: dict[int, ToolCallParts] = field(default_factory=dict)
    finish_reason: str | None = None
    usage: litellm.Usage | None = None
    # The provider said the model declined (OpenAI's ``delta.refusal``, which LiteLLM
    # 1.110.2 passes on only as the empty string of the first chunk, or a content filter).
    refused: bool = False

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
        refusal = getattr(delta, "refusal", None)
        if isinstance(refusal, str):
            self.refused = True
        if self.finish_reason == CONTENT_FILTER_FINISH_REASON:
            self.refused = True
        content = _text_of(delta.content)
        if content:
            self.mark_token()
            self.streamed_text = True
        for position, tool_call in enumerate(delta.tool_calls or []):
            index = tool_call.index if isinstance(tool_call.index, int) else position
            function = tool_call.function
            parts = self.tool_calls.setdefault(index, ToolCallParts())
            name = _text_of(function.name) if function is not None else ""
            if name and not parts.name:
                self.mark_token()
                parts.name = name
            arguments = _text_of(function.arguments) if function is not None else ""
            if arguments:
                parts.argument_parts.append(arguments)
        return content

    def completed_tool_calls(self) -> list[ToolCallParts]:
        """The tool calls to report (``llm_app.seam.tool_calls`` says which)."""
        return completed_tool_calls(self.tool_calls, self.finish_reason)

    @property
    def answered(self) -> bool:
        """Whether the reply holds anything to show or act on."""
        return self.streamed_text or bool(self.completed_tool_calls())


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
