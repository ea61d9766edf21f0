"""Anthropic prompt caching: lesson content marked with ``cache_control``, for Anthropic only.

The fake Anthropic server keeps a prompt cache the way the real one reports it (a write on the
first request with a marked prefix, reads after), and is as strict as the real API about the
system blocks, so these tests check the legitimate wire shape and LiteLLM's usage mapping.
The lessons side (``SystemPrompt`` and ``send_message``) is tested in
lessons_app/tests/test_prompt_caching.py.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from types import SimpleNamespace
from typing import Any

import litellm
import pytest
from litellm.types.utils import Usage

from llm_app.events import EventType
from llm_app.llm import stream_chat
from llm_app.providers import ResolvedProvider
from llm_app.seam.pricing import cache_tokens
from llm_app.seam.prompt_caching import CACHE_CONTROL, join_system_prompt
from llm_app.seam.request import build_completion_kwargs
from llm_app.testing import FakeProviderServer, Reply

MODELS = {
    "anthropic": "anthropic/claude-sonnet-4-5",  # priced in LiteLLM's map, cache rates included
    "gemini": "gemini/gemini-2.5-flash",
    "openai": "openai/gpt-4o-mini",
}
LESSON_TEXT = (
    "<article_excerpt>\n" + "Photosynthesis turns light into sugar. " * 40 + "\n</article_excerpt>"
)


@dataclass(frozen=True)
class SplitPrompt:
    """A two-part system prompt, as the seam's ``SplitSystemPrompt`` protocol describes it."""

    instructions: str
    content: str = ""


PROMPT = SplitPrompt(instructions="You are the tutor. Be Socratic.", content=LESSON_TEXT)
JOINED_PROMPT = f"{PROMPT.instructions}\n\n{LESSON_TEXT}"
LEARNER = [{"role": "user", "content": "Why are leaves green?"}]


def provider_for(server: FakeProviderServer) -> ResolvedProvider:
    return ResolvedProvider(
        model=MODELS[server.kind],
        name=f"fake {server.kind}",
        api_base=server.url,
        api_key="test-key",
    )


async def run(server: FakeProviderServer, system: Any = PROMPT) -> list[dict]:
    return [e async for e in stream_chat(LEARNER, system, provider=provider_for(server))]


def usage(events: list[dict]) -> dict:
    (event,) = [e for e in events if e["type"] == EventType.USAGE]
    return event


async def test_anthropic_request_marks_the_lesson_content_for_caching(
    anthropic_server: FakeProviderServer,
) -> None:
    events = await run(anthropic_server)

    assert events[-1]["type"] == "done"
    system = anthropic_server.last_request.json["system"]
    assert system == [
        {"type": "text", "text": PROMPT.instructions},
        {"type": "text", "text": LESSON_TEXT, "cache_control": {"type": "ephemeral"}},
    ]
    # The conversation itself is not marked: it changes every turn.
    assert "cache_control" not in json.dumps(anthropic_server.last_request.json["messages"])


@pytest.mark.parametrize("kind", ["gemini", "openai"])
async def test_other_providers_get_the_same_prompt_without_anthropic_fields(
    request: pytest.FixtureRequest, kind: str
) -> None:
    server: FakeProviderServer = request.getfixturevalue(f"{kind}_server")

    events = await run(server)

    assert events[-1]["type"] == "done"
    assert server.last_request.system == JOINED_PROMPT
    assert "cache_control" not in json.dumps(server.last_request.json)
    assert "ephemeral" not in json.dumps(server.last_request.json)


async def test_repeated_turns_on_a_stage_write_then_read_the_cache(
    anthropic_server: FakeProviderServer,
) -> None:
    anthropic_server.enqueue(Reply.text("First.", input_tokens=20), Reply.text("Second."))

    first = usage(await run(anthropic_server))
    second = usage(await run(anthropic_server))

    assert first["cache_write_tokens"] > 0
    assert first["cache_read_tokens"] == 0
    assert second["cache_read_tokens"] == first["cache_write_tokens"]
    assert second["cache_write_tokens"] == 0
    # LiteLLM counts cached tokens in the prompt tokens, so input_tokens is the whole prompt.
    assert first["input_tokens"] == 20 + first["cache_write_tokens"]
    # Priced with the map's cache rates: a read costs a tenth of input, a write a bit more.
    assert second["cost_usd"] < first["cost_usd"]
    read_price = litellm.get_model_info(MODELS["anthropic"])["cache_read_input_token_cost"]
    assert read_price > 0


async def test_a_plain_string_prompt_is_sent_as_before(
    anthropic_server: FakeProviderServer,
) -> None:
    events = await run(anthropic_server, system="Just a short prompt.")

    assert anthropic_server.last_request.json["system"] in (
        "Just a short prompt.",
        [{"type": "text", "text": "Just a short prompt."}],
    )
    assert "cache_control" not in json.dumps(anthropic_server.last_request.json)
    assert usage(events)["cache_write_tokens"] == 0


def test_a_prompt_without_content_is_one_string_even_for_anthropic() -> None:
    prompt = SplitPrompt(instructions="No lesson text on this stage.")
    kwargs = build_completion_kwargs(
        LEARNER, prompt, None, ResolvedProvider(model=MODELS["anthropic"]), 100
    )
    assert kwargs["messages"][0] == {"role": "system", "content": "No lesson text on this stage."}


def test_any_object_with_instructions_and_content_is_a_split_prompt() -> None:
    neutral = SimpleNamespace(instructions="Do this.", content="Lesson.")
    anthropic = build_completion_kwargs(
        LEARNER, neutral, None, ResolvedProvider(model=MODELS["anthropic"]), 100
    )
    openai = build_completion_kwargs(
        LEARNER, neutral, None, ResolvedProvider(model=MODELS["openai"]), 100
    )

    assert anthropic["messages"][0]["content"][-1]["cache_control"] == CACHE_CONTROL
    assert openai["messages"][0]["content"] == "Do this.\n\nLesson."
    assert join_system_prompt(neutral) == "Do this.\n\nLesson."


def test_cache_fields_are_none_when_the_provider_reports_nothing() -> None:
    assert cache_tokens(None) == (None, None)
    assert cache_tokens(Usage(prompt_tokens=10, completion_tokens=2, total_tokens=12)) == (
        None,
        None,
    )


async def test_openai_reports_cache_reads_but_not_writes(openai_server: FakeProviderServer) -> None:
    reported = usage(await run(openai_server))

    # OpenAI's usage has prompt_tokens_details.cached_tokens (0 here) and no write count.
    assert reported["cache_read_tokens"] == 0
    assert reported["cache_write_tokens"] is None
