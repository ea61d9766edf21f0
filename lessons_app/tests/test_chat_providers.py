"""The chat socket through real LiteLLM against fake provider servers on 127.0.0.1."""

import asyncio

import pytest
from channels.db import database_sync_to_async
from django.utils import translation
from django.utils.translation import gettext

from lessons_app.models import Message
from lessons_app.tests.chat_helpers import (
    CLAUDE,
    add_provider,
    assert_silent,
    bare,
    open_chat,
    receive,
    receive_turn,
    send,
    text_of,
)
from llm_app.events import SAFE_ERROR_MESSAGES, ErrorCode
from llm_app.models import ProviderConfig, ProviderFallback
from llm_app.services import make_default
from llm_app.testing import Reply

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("turn_runtime")]

GEMINI = "gemini/gemini-2.5-flash"


@pytest.fixture
async def claude(anthropic_server):
    await database_sync_to_async(add_provider)("Claude", CLAUDE, anthropic_server.url, default=True)
    return anthropic_server


async def ask(communicator, content: str) -> list[dict]:
    await send(communicator, {"type": "message", "content": content})
    echo = await receive(communicator)
    assert echo["type"] == "message"
    return await receive_turn(communicator)


async def rows(role: str = "assistant") -> list[Message]:
    return [m async for m in Message.objects.filter(role=role).order_by("created_at", "id")]


async def test_reply_streams_from_the_admin_default_and_is_saved(learner, claude):
    claude.enqueue(Reply.text("Chlorophyll absorbs red and blue light.", chunks=4))
    communicator, _ = await open_chat(learner)
    frames = await ask(communicator, "Why are leaves green?")
    texts = [f for f in frames if f["type"] == "text"]
    assert len(texts) == 4
    assert text_of(frames) == "Chlorophyll absorbs red and blue light."
    assert [f["type"] for f in frames[-2:]] == ["usage", "done"]
    await assert_silent(communicator)
    await communicator.disconnect()

    request = claude.last_request
    assert request.api_key == "test-key-claude"
    assert "Photosynthesis" in request.system
    assert request.roles == ["user"]
    assert request.tools is None  # article stage: no transition tool
    (reply,) = await rows()
    assert (reply.status, reply.content) == ("complete", "Chlorophyll absorbs red and blue light.")
    assert reply.provider_name == "Claude"
    assert reply.output_tokens
    assert reply.time_to_first_token_ms is not None


async def test_tool_call_on_a_chat_stage_reaches_the_browser_once(learner, claude):
    claude.enqueue(Reply.text("Welcome to the discussion. What did you notice?"))
    claude.enqueue(Reply.tool_call("transition_to_next", "{}", fragments=3, text="Well done."))
    communicator, history = await open_chat(learner)
    await send(communicator, {"type": "advance", "from_stage": history["stage"]["id"]})
    assert (await receive(communicator))["type"] == "stage"
    opening = await receive_turn(communicator)  # the tutor opens the chat stage
    assert text_of(opening).startswith("Welcome")
    assert claude.requests[0].roles == ["user"]  # a hidden "[Begin conversation]" turn

    frames = await ask(communicator, "I think I'm ready to move on")
    assert [f for f in bare(frames) if f["type"] == "tool_use"] == [
        {"type": "tool_use", "name": "transition_to_next"}
    ]
    assert frames[-1]["type"] == "done"
    assert claude.last_request.tool_names == ["transition_to_next"]
    assert claude.last_request.roles == ["user", "assistant", "user"]
    await communicator.disconnect()


async def test_stop_mid_stream_saves_partial_text_and_cancels_upstream(learner, claude):
    claude.enqueue(Reply.text("one two three four five six seven eight", chunks=8, chunk_delay=0.3))
    communicator, _ = await open_chat(learner)
    await send(communicator, {"type": "message", "content": "Tell me a long story"})
    await receive(communicator)  # echo
    frames = [await receive(communicator), await receive(communicator)]  # reply + first text
    assert [f["type"] for f in frames] == ["reply", "text"]
    await send(communicator, {"type": "stop"})
    rest = await receive_turn(communicator)
    assert rest[-1]["type"] == "error"
    assert rest[-1]["code"] == "stopped"
    assert rest[-1]["retryable"] is True
    assert not any(f["type"] == "done" for f in rest)
    assert await asyncio.to_thread(claude.wait_for_disconnect, 5.0)

    (reply,) = await rows()
    assert reply.status == "stopped"
    seen = text_of(frames + rest)
    assert reply.content == seen
    assert seen.startswith("one")
    assert "eight" not in seen
    await communicator.disconnect()


async def test_provider_failure_mid_stream_saves_partial_text_and_sends_one_error(learner, claude):
    claude.enqueue(Reply.cut_after(2, text="alpha beta gamma delta epsilon", chunks=5))
    communicator, _ = await open_chat(learner)
    frames = await ask(communicator, "Go on")
    terminal = [f for f in frames if f["type"] in ("done", "error")]
    assert len(terminal) == 1
    assert terminal[0]["code"] == "unavailable"
    assert terminal[0]["retryable"] is True
    assert "test-key" not in str(frames)
    await assert_silent(communicator)
    (reply,) = await rows()
    assert reply.status == "error"
    assert reply.error_code == "unavailable"
    assert reply.content == text_of(frames) == "alpha beta "
    await communicator.disconnect()


@pytest.mark.parametrize(
    ("status", "code"), [(401, "auth"), (429, "rate_limited"), (529, "unavailable")]
)
async def test_provider_errors_before_the_first_token(learner, claude, status, code):
    claude.enqueue(Reply.error(status))
    communicator, _ = await open_chat(learner)
    frames = await ask(communicator, "Hello?")
    assert [f["type"] for f in frames] == ["reply", "usage", "error"]
    assert frames[-1]["code"] == code
    assert "test-key" not in frames[-1]["message"]
    (reply,) = await rows()
    assert reply.error_code == code and reply.attempts == 1
    await communicator.disconnect()


def safe_message(code: ErrorCode, language: str) -> str:
    with translation.override(language):
        return gettext(SAFE_ERROR_MESSAGES[code])


async def test_a_failed_reply_says_why_in_the_learners_language_live_and_after_a_reload(
    learner, claude
):
    german = safe_message(ErrorCode.UNAVAILABLE, "de")
    english = SAFE_ERROR_MESSAGES[ErrorCode.UNAVAILABLE]
    assert german != english
    claude.enqueue(Reply.error(529))
    communicator, _ = await open_chat(learner, query="lang=de")
    frames = await ask(communicator, "Hallo?")
    assert (frames[-1]["code"], frames[-1]["message"]) == ("unavailable", german)
    await communicator.disconnect()

    for language, expected in (("de", german), ("en", english)):
        communicator, history = await open_chat(learner, query=f"lang={language}")
        (failed,) = [m for m in history["messages"] if m["role"] == "assistant"]
        assert (failed["status"], failed["error_message"]) == ("error", expected)
        await communicator.disconnect()


async def test_retry_regenerates_a_failed_reply(learner, claude):
    claude.enqueue(Reply.error(529))
    claude.enqueue(Reply.text("Second time lucky."))
    communicator, _ = await open_chat(learner)
    await ask(communicator, "Hello?")
    await send(communicator, {"type": "retry"})
    frames = await receive_turn(communicator)
    assert text_of(frames) == "Second time lucky."
    # The failed reply is neither replayed to the model nor lost from the history.
    assert claude.last_request.roles == ["user"]
    assert [(m.status, m.content) for m in await rows()] == [
        ("error", ""),
        ("complete", "Second time lucky."),
    ]
    await communicator.disconnect()


async def test_second_message_while_streaming_is_refused_and_the_turn_continues(learner, claude):
    claude.enqueue(Reply.text("a b c d", chunks=4, chunk_delay=0.2))
    communicator, _ = await open_chat(learner)
    await send(communicator, {"type": "message", "content": "First"})
    await receive(communicator)
    await send(communicator, {"type": "message", "content": "Second"})
    frames = await receive_turn(communicator)
    busy = [f for f in frames if f["type"] == "error" and f.get("rejected")]
    assert busy == [
        {
            "type": "error",
            "code": "busy",
            "message": busy[0]["message"],
            "retryable": False,
            "rejected": "message",
        }
    ]
    assert frames[-1]["type"] == "done"
    assert text_of(frames) == "a b c d"
    assert [m.content for m in await rows("user")] == ["First"]
    assert len(claude.requests) == 1
    await communicator.disconnect()


async def test_switching_the_default_applies_to_the_next_reply_on_an_open_socket(
    learner, claude, gemini_server
):
    gemini = await database_sync_to_async(add_provider)("Gemini", GEMINI, gemini_server.url)
    claude.enqueue(Reply.text("From Claude."))
    gemini_server.enqueue(Reply.text("From Gemini."))
    communicator, _ = await open_chat(learner)
    assert text_of(await ask(communicator, "Who are you?")) == "From Claude."

    await database_sync_to_async(make_default)(gemini)

    assert text_of(await ask(communicator, "And now?")) == "From Gemini."
    assert len(claude.requests) == 1
    assert len(gemini_server.requests) == 1
    assert gemini_server.last_request.roles == ["user", "assistant", "user"]
    replies = await rows()
    assert [r.provider_name for r in replies] == ["Claude", "Gemini"]
    await communicator.disconnect()


def _add_fallback(name: str, to: str) -> None:
    ProviderFallback.objects.create(
        provider=ProviderConfig.objects.get(name=name), fallback=ProviderConfig.objects.get(name=to)
    )


async def test_a_reply_is_kept_by_the_provider_that_answered_it(learner, claude, gemini_server):
    gemini = await database_sync_to_async(add_provider)("Gemini", GEMINI, gemini_server.url)
    await database_sync_to_async(_add_fallback)("Claude", "Gemini")
    claude.enqueue(Reply.error(503))
    gemini_server.enqueue(Reply.text("From the fallback."))
    communicator, _ = await open_chat(learner)

    frames = await ask(communicator, "Anyone there?")
    assert text_of(frames) == "From the fallback."
    await communicator.disconnect()

    (reply,) = await rows()
    assert (reply.provider_id, reply.provider_name, reply.attempts) == (gemini.pk, "Gemini", 2)
    # The seam says which provider answered by its id; the browser's frame names it only.
    (usage,) = [f for f in frames if f["type"] == "usage"]
    assert usage["provider"] == "Gemini"
    assert "provider_id" not in usage


async def test_whole_lesson_through_claude_then_gemini_formats(learner, claude, gemini_server):
    """The original plan's manual check, automated: a full lesson on each wire format."""
    gemini = await database_sync_to_async(add_provider)("Gemini", GEMINI, gemini_server.url)
    for server, provider in ((claude, None), (gemini_server, gemini)):
        if provider is not None:
            await database_sync_to_async(make_default)(provider)
            await Message.objects.all().adelete()
            from lessons_app.models import LessonProgress

            await LessonProgress.objects.all().adelete()
        server.enqueue(Reply.text("Good question about leaves."))
        server.enqueue(Reply.text("Let's discuss what you read."))
        server.enqueue(Reply.tool_call("transition_to_next", "{}", text="You've got it."))
        communicator, history = await open_chat(learner)
        assert text_of(await ask(communicator, "What is chlorophyll?"))
        await send(communicator, {"type": "advance", "from_stage": history["stage"]["id"]})
        stage = await receive(communicator)
        assert stage["stage"]["kind"] == "chat"
        await receive_turn(communicator)  # opening
        frames = await ask(communicator, "I'm ready")
        assert {"type": "tool_use", "name": "transition_to_next"} in bare(frames)
        await send(communicator, {"type": "advance", "from_stage": stage["stage"]["id"]})
        final = await receive(communicator)
        assert final["stage"]["completed"] is True
        await communicator.disconnect()
        # The article stage offers no tool; both chat-stage turns do.
        assert [r.tool_names for r in server.requests] == [
            [],
            ["transition_to_next"],
            ["transition_to_next"],
        ]
