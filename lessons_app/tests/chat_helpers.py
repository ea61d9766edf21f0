"""Helpers for driving the chat socket in tests through the full ASGI stack."""

from __future__ import annotations

import asyncio
import json
import uuid
from typing import Any

from channels.db import database_sync_to_async
from channels.testing import WebsocketCommunicator
from django.conf import settings
from django.test import Client

from lessons_app.models import Lesson, Stage
from lessons_app.tests.factories import (
    ArticleStageFactory,
    ChatStageFactory,
    LearnerFactory,
    LessonFactory,
)
from lessons_app.tutor.protocol import TURN_MESSAGE_ID, TURN_SEQ, FrameErrorCode
from llm_app.models import ProviderConfig
from llm_app.testing.factories import ProviderFactory

# Loaded while collecting, not in a test: loading it runs django.setup(), which re-applies
# settings.LOGGING and would drop caplog's handler mid-test (see test_observability.py).
from tutor_project.asgi import application

CLAUDE = "anthropic/claude-sonnet-4-20250514"
ORIGIN = b"http://127.0.0.1"
RECEIVE_TIMEOUT = 10
# The type of the frame assert_silent sends: unknown to the server, so refused at once.
SILENCE_MARKER = "silence-check"


def make_lesson(slug: str = "plants", *, first_kind: str = Stage.Kind.ARTICLE) -> Lesson:
    """The published lesson the chat tests talk about: an article (unless told), then a chat."""
    lesson = LessonFactory(title="How plants make food", slug=slug)
    if first_kind == Stage.Kind.ARTICLE:
        ArticleStageFactory(
            lesson=lesson,
            position=1,
            title="Photosynthesis",
            body="# Photosynthesis\n\nLeaves capture sunlight energy to make sugar from air.",
        )
    ChatStageFactory(
        lesson=lesson,
        position=2,
        title="Discuss",
        instructions="Check the learner understood where a tree's mass comes from.",
    )
    return lesson


def make_user(username: str = "learner", *, staff: bool = False):
    return LearnerFactory(username=username, is_staff=staff)


def add_provider(name: str, model: str, api_base: str, *, default: bool = False) -> ProviderConfig:
    """A provider at a fake server's ``api_base``, with a key of its own and no retries."""
    return ProviderFactory(
        name=name,
        model=model,
        api_base=api_base,
        api_key=f"test-key-{name.lower()}",
        timeout_seconds=20,
        # These tests script each failure; a retry would hide it behind a second call.
        max_retries=0,
        is_default=default,
    )


async def make_learner(username: str = "learner"):
    """A learner, and the published lesson ``plants`` (article, then chat) to talk about."""
    user = await database_sync_to_async(make_user)(username)
    await database_sync_to_async(make_lesson)()
    return user


def session_cookie(user) -> str:
    client = Client()
    client.force_login(user)
    return f"{settings.SESSION_COOKIE_NAME}={client.cookies[settings.SESSION_COOKIE_NAME].value}"


async def connect(
    user, slug: str, *, origin: bytes = ORIGIN, query: str = ""
) -> tuple[WebsocketCommunicator, bool, Any]:
    """Open the chat socket as ``user``'s browser would; ``query`` is the URL's query string."""
    headers = [(b"origin", origin), (b"host", b"127.0.0.1")]
    if user is not None:
        cookie = await database_sync_to_async(session_cookie)(user)
        headers.append((b"cookie", cookie.encode()))
    path = f"/ws/lessons/{slug}/chat/" + (f"?{query}" if query else "")
    communicator = WebsocketCommunicator(application, path, headers=headers)
    connected, subprotocol_or_code = await communicator.connect(timeout=RECEIVE_TIMEOUT)
    return communicator, connected, subprotocol_or_code


async def refusal(user, slug: str) -> int:
    """The close code of a socket that may not chat: answered, then closed before any frame."""
    communicator, connected, _ = await connect(user, slug)
    assert connected, "the handshake is answered before the database decides"
    output = await communicator.receive_output(timeout=RECEIVE_TIMEOUT)
    assert output["type"] == "websocket.close", output
    assert type(output["code"]) is int, "Daphne (autobahn) sends no other type of code"
    return output["code"]


async def open_chat(user, slug: str = "plants", *, query: str = ""):
    """A socket opened as ``user``, and the ``history`` frame it opened with."""
    communicator, connected, _ = await connect(user, slug, query=query)
    assert connected
    history = await receive(communicator)
    assert history["type"] == "history"
    return communicator, history


async def receive(communicator: WebsocketCommunicator) -> dict[str, Any]:
    return json.loads(await communicator.receive_from(timeout=RECEIVE_TIMEOUT))


async def send(communicator: WebsocketCommunicator, frame: dict[str, Any] | str) -> None:
    await communicator.send_to(text_data=frame if isinstance(frame, str) else json.dumps(frame))


async def receive_until(
    communicator: WebsocketCommunicator, *types: str, limit: int = 500
) -> list[dict[str, Any]]:
    """Frames up to and including the first whose type is in ``types``."""
    frames = []
    for _ in range(limit):
        frame = await receive(communicator)
        frames.append(frame)
        if frame["type"] in types:
            return frames
    raise AssertionError(f"No {types} frame within {limit} frames: {frames[-5:]}")


def ends_turn(frame: dict[str, Any]) -> bool:
    """``done``, or an ``error`` that ends a turn (frame refusals carry ``rejected``)."""
    return frame["type"] == "done" or (frame["type"] == "error" and "rejected" not in frame)


async def receive_turn(
    communicator: WebsocketCommunicator, limit: int = 500
) -> list[dict[str, Any]]:
    """Frames of one tutor turn, up to its single ``done`` or turn-ending ``error``."""
    frames = []
    for _ in range(limit):
        frame = await receive(communicator)
        frames.append(frame)
        if ends_turn(frame):
            return frames
    raise AssertionError(f"The turn did not end within {limit} frames: {frames[-5:]}")


def _sent_frames(outputs: list[dict[str, Any]]) -> list[Any]:
    return [json.loads(out["text"]) for out in outputs if out["type"] == "websocket.send"]


async def assert_silent(communicator: WebsocketCommunicator) -> None:
    """Nothing was sent to this socket that the test has not read, proved without a clock.

    A frame of an unknown type is refused at once by the consumer itself, and frames to
    one socket arrive in order: so the refusal of a marker named for this check must be
    the very next frame, and anything before it is one the test did not expect. The
    marker touches no state, and a refusal (it has ``rejected``) never ends a turn.

    It covers what this socket's own frames caused. A frame that another socket's action
    sends here through the turn engine may still be on its way; to rule that out, send
    something that follows the same path and check what arrives first.
    """
    if communicator.future.done():
        # The socket's application has ended: whatever it sent is queued already.
        outputs = []
        while not communicator.output_queue.empty():
            outputs.append(communicator.output_queue.get_nowait())
        assert not _sent_frames(outputs), f"unexpected frames: {_sent_frames(outputs)}"
        return
    marker = f"{SILENCE_MARKER}-{uuid.uuid4().hex[:8]}"
    await send(communicator, {"type": marker})
    output = await communicator.receive_output(timeout=RECEIVE_TIMEOUT)
    if output["type"] == "websocket.close":
        return  # the server closed the socket, with nothing sent before it
    (frame,) = _sent_frames([output])
    assert (frame["type"], frame.get("code"), frame.get("rejected")) == (
        "error",
        FrameErrorCode.UNKNOWN_TYPE,
        marker,
    ), f"unexpected frame: {frame}"


def bare(frames: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The frames without their turn fields (``message_id``, ``seq``), for comparing content."""
    return [
        {key: value for key, value in frame.items() if key not in (TURN_MESSAGE_ID, TURN_SEQ)}
        for frame in frames
    ]


def turn_fields(frames: list[dict[str, Any]]) -> list[tuple[int, int]]:
    return [(frame[TURN_MESSAGE_ID], frame[TURN_SEQ]) for frame in frames]


def text_of(frames: list[dict[str, Any]]) -> str:
    return "".join(f["content"] for f in frames if f["type"] == "text")


async def settle() -> None:
    await asyncio.sleep(0)
