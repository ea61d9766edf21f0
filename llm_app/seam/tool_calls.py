"""Which of a reply's tool calls are complete enough to report: the one rule, in one place.

A tool call arrives in pieces (its name, then its arguments in fragments). A reply cut
short by ``max_tokens`` can stop inside the arguments: Anthropic then never closes the
block and its JSON never completes (the ``anthropic-tool-truncated-max-tokens``
recording). Acting on such a call would act on arguments the model never finished,
so it is not reported. LiteLLM does not pass Anthropic's ``content_block_stop`` on, so
the missing block stop is seen through what it leaves behind: a ``length`` finish,
or arguments that do not parse.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

# LiteLLM's finish reason for a reply cut off by max_tokens (Anthropic's ``max_tokens``,
# Gemini's ``MAX_TOKENS``, OpenAI's ``length``).
TRUNCATED_FINISH_REASON = "length"


@dataclass
class ToolCallParts:
    """One tool call as streamed so far: its name and its arguments' fragments."""

    name: str = ""
    argument_parts: list[str] = field(default_factory=list)

    @property
    def arguments(self) -> str:
        return "".join(self.argument_parts)

    def parsed_arguments(self) -> dict[str, Any]:
        """The arguments as a JSON object; ``{}`` when the model gave none.

        Only for a call :func:`completed_tool_calls` reports, whose arguments parse.
        """
        return json.loads(self.arguments) if self.arguments.strip() else {}


def arguments_complete(arguments: str) -> bool:
    """Whether the streamed arguments are one whole JSON object (none at all counts as ``{}``)."""
    if not arguments.strip():
        return True
    try:
        return isinstance(json.loads(arguments), dict)
    except ValueError:
        return False


def completed_tool_calls(
    calls: dict[int, ToolCallParts], finish_reason: str | None
) -> list[ToolCallParts]:
    """The calls to report, in the order the model made them; none from a truncated reply."""
    if finish_reason == TRUNCATED_FINISH_REASON:
        return []
    return [
        calls[index]
        for index in sorted(calls)
        if calls[index].name and arguments_complete(calls[index].arguments)
    ]
