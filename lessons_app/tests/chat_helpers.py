"""Helpers for driving the chat socket in tests through the full ASGI stack."""

from __future__ import annotations

import asyncio
import json
from typing import Any

from channels.db import database_sync_to_async
from channels.testing import WebsocketCommunicator
from django.conf import settings
from django.contrib.auth import get_user_model
from django.test import Client

from lessons_app.models import Lesson, Stage

ORIGIN = b"http://127.0.0.1"
RECEIVE_TIMEOUT = 10
PASSWORD = "correct-horse-battery-staple"


def make_lesson(slug: str = "plants", *, first_kind: str = Stage.Kind.ARTICLE) -> Lesson:
    lesson = Lesson.objects.create(title="How plants make food", slug=slug, is_published=True)
    if first_kind == Stage.Kind.ARTICLE:
        Stage.objects.create(
            lesson=lesson,
            position=1,
            kind=Stage.Kind.ARTICLE,
            title="Photosynthesis",
            body="# Photosynthesis\n\nLeaves capture sunlight energy to make sugar from air.",
        )
    Stage.objects.create(
        lesson=lesson,
        position=2,
        kind=Stage.Kind.CHAT,
        title="Discuss",
        instructions="Check the learner understood where a tree's mass comes from.",
    )
    return lesson


def make_user(username: str = "learner", *, staff: bool = False):
    return get_user_model().objects.create_user(
        username=username, password=PASSWORD, is_staff=staff
    )


def session_cookie(user) -> str:
    client = Client()
    client.force_login(user)
    return f"{settings.SESSION_COOKIE_NAME}={client.cookies[settings.SESSION_COOKIE_NAME].value}"


async def connect(
    user, slug: str, *, origin: bytes = ORIGIN
) -> tuple[WebsocketCommunicator, bool, Any]:
    from tutor_project.asgi import application

    headers = [(b"origin", origin), (b"host", b"127.0.0.1")]
    if user is not None:
        cookie = await database_sync_to_async(session_cookie)(user)
        headers.append((b"cookie", cookie.encode()))
    communicator = WebsocketCommunicator(application, f"/ws/lessons/{slug}/chat/", headers=headers)
    connected, subprotocol_or_code = await communicator.connect(timeout=RECEIVE_TIMEOUT)
    return communicator, connected, subprotocol_or_code


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


async def assert_silent(communicator: WebsocketCommunicator, seconds: float = 0.3) -> None:
    assert await communicator.receive_nothing(timeout=seconds), "unexpected extra frame"


def text_of(frames: list[dict[str, Any]]) -> str:
    return "".join(f["content"] for f in frames if f["type"] == "text")


async def settle() -> None:
    await asyncio.sleep(0)
