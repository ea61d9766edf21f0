"""A short smoke test against a real model: ``make local-model``, then ``make test-local-model``.

Opt-in and outside ``testpaths``: ``make test`` and CI never collect it. It drives the
registered admin provider (llama-cpp-python's server with SmolLM2-135M-Instruct on
127.0.0.1) through the same seam and prompt code as a chat turn.
"""

from __future__ import annotations

import os
from contextlib import aclosing

import pytest

from lessons_app.prompts import build_model_messages, send_message
from lessons_app.tests.factories import LessonFactory
from lessons_app.tests.test_prompts import chat_stage
from llm_app import context_window, services
from llm_app.events import EventType
from llm_app.llm import stream_chat
from llm_app.providers import resolve_provider

API_BASE = os.environ.get("LOCAL_MODEL_API_BASE", "")
ALIAS = os.environ.get("LOCAL_MODEL_ALIAS", "smollm2")
CONTEXT = int(os.environ.get("LOCAL_MODEL_CTX", "2048"))

pytestmark = pytest.mark.django_db


@pytest.fixture
def provider():
    if not API_BASE:
        pytest.fail("LOCAL_MODEL_API_BASE is not set: run `make test-local-model`")
    config = services.register_local_model(API_BASE, alias=ALIAS, context_window_tokens=CONTEXT)
    return resolve_provider(config.name)


def test_the_registered_provider_passes_the_connection_check(provider) -> None:
    from llm_app.models import ProviderConfig

    result = services.check_provider(ProviderConfig.objects.get(name=provider.name))
    assert result.ok, result.summary()
    assert result.first_words


async def test_a_reply_streams_in_pieces_with_its_usage(provider) -> None:
    events = [
        event
        async for event in stream_chat(
            [{"role": "user", "content": "Name three colours."}],
            "You are a helpful tutor.",
            provider=provider,
            max_tokens=48,
        )
    ]
    texts = [event for event in events if event["type"] == EventType.TEXT]
    assert len(texts) > 1, "streamed, not one block"
    assert events[-1] == {"type": EventType.DONE}
    usage = events[-2]
    assert usage["output_tokens"] and usage["input_tokens"]
    assert usage["cost_usd"] == 0  # a local model is free, not unpriced


async def test_stopping_a_reply_frees_the_server_for_the_next(provider) -> None:
    stream = stream_chat(
        [{"role": "user", "content": "Write a long story about a fox."}],
        "You are a storyteller.",
        provider=provider,
        max_tokens=256,
    )
    async with aclosing(stream) as events:
        async for event in events:
            if event["type"] == EventType.TEXT:
                break  # the learner pressed Stop
    after = [
        event
        async for event in stream_chat(
            [{"role": "user", "content": "Say hello."}],
            "Be brief.",
            provider=provider,
            max_tokens=16,
        )
    ]
    assert after[-1] == {"type": EventType.DONE}


async def test_a_long_conversation_keeps_answering(provider) -> None:
    lesson = LessonFactory.build(title="Light and colour", slug="light")
    stage = chat_stage(lesson, show_tutor_previous_content=False)
    history = []
    for number in range(30):
        history.append(
            {"role": "user", "content": f"Question {number}: " + "why is the sky blue? " * 25}
        )
        history.append({"role": "assistant", "content": "Because of Rayleigh scattering. " * 20})
    history.append({"role": "user", "content": "Thanks! One more: why are sunsets red?"})
    whole = context_window.count_tokens(provider.model, build_model_messages(history))
    assert whole > CONTEXT, "the conversation must not fit unfitted, or this proves nothing"

    for _turn in range(2):  # the turn, then a Retry of it
        async with aclosing(send_message(history, stage, None, None, provider)) as stream:
            events = [event async for event in stream]
        assert events[-1] == {"type": EventType.DONE}, events[-1]
        assert "".join(e["content"] for e in events if e["type"] == EventType.TEXT).strip()
