"""The offline demo tutor, driven through the real seam and LiteLLM's custom-provider path.

What it says comes from a reply composer; the lesson-aware one is lessons_app's and is tested
there (lessons_app/tests/test_demo_tutor.py). Here: the default composer and the plumbing.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import litellm
import pytest

from llm_app.demo_provider import (
    DEMO_PROVIDER_PREFIX,
    DemoReply,
    ReplyComposer,
    echo_reply,
    register_demo_provider,
    set_reply_composer,
)
from llm_app.llm import stream_chat
from llm_app.providers import DEMO_MODEL, ResolvedProvider

DEMO = ResolvedProvider(model=DEMO_MODEL, name="Demo", extra_params={"word_delay": 0})
SYSTEM = "You are a helpful tutor."
MOVE_ON_TOOL = {"type": "function", "function": {"name": "move_on", "parameters": {}}}


@pytest.fixture
def composer() -> Iterator[Callable[[ReplyComposer], ReplyComposer]]:
    """The default composer for one test; call the fixture's value to install another."""
    previous = set_reply_composer(echo_reply)
    yield set_reply_composer
    set_reply_composer(previous)


async def reply(messages: list[dict], tools: list[dict] | None = None) -> list[dict]:
    return [e async for e in stream_chat(messages, SYSTEM, tools=tools, provider=DEMO)]


def text(events: list[dict]) -> str:
    return "".join(e["content"] for e in events if e["type"] == "text")


@pytest.mark.usefixtures("composer")
async def test_the_default_reflects_the_learners_words_word_by_word_and_calls_no_tool():
    events = await reply([{"role": "user", "content": "Fractions are  parts of a whole"}])

    texts = [e["content"] for e in events if e["type"] == "text"]
    assert len(texts) > 5
    assert text(events).startswith('You said: "Fractions are parts of a whole".')
    assert [e["type"] for e in events[-2:]] == ["usage", "done"]
    assert not any(e["type"] == "tool_use" for e in events)


@pytest.mark.usefixtures("composer")
async def test_the_default_greets_when_there_is_nothing_to_answer_and_ignores_tools():
    events = await reply([{"role": "user", "content": " "}], tools=[MOVE_ON_TOOL])

    assert text(events).startswith("Hello! I'm the offline demo tutor.")
    assert not any(e["type"] == "tool_use" for e in events)


@pytest.mark.usefixtures("composer")
async def test_long_words_are_quoted_back_cut_short():
    events = await reply([{"role": "user", "content": "word " * 40}])

    quoted = text(events).split('"')[1]
    assert len(quoted) == 80
    assert quoted.endswith("...")


async def test_a_plugged_in_composer_sees_the_request_and_its_tool_call_comes_through(composer):
    seen: list[tuple[list[dict], list[dict] | None]] = []

    def moving_on(messages: list[dict], tools: list[dict] | None) -> DemoReply:
        seen.append((messages, tools))
        return DemoReply("On we go.", tool_call="move_on")

    composer(moving_on)
    events = await reply([{"role": "user", "content": "Next please"}], tools=[MOVE_ON_TOOL])

    assert text(events) == "On we go."
    assert {"type": "tool_use", "name": "move_on"} in events
    (usage,) = [e for e in events if e["type"] == "usage"]
    assert usage["finish_reason"] == "tool_calls"
    assert usage["output_tokens"] == 3
    assert events[-1] == {"type": "done"}
    ((messages, tools),) = seen
    assert [m["role"] for m in messages] == ["system", "user"]
    assert tools[0]["function"]["name"] == "move_on"


def test_setting_a_composer_returns_the_one_it_replaces(composer):
    def other(messages, tools):
        return DemoReply("x")

    assert set_reply_composer(other) is echo_reply
    assert set_reply_composer(echo_reply) is other


def test_registering_twice_adds_the_provider_once():
    register_demo_provider()
    register_demo_provider()

    entries = [e for e in litellm.custom_provider_map if e["provider"] == DEMO_PROVIDER_PREFIX]
    assert len(entries) == 1
