"""The socket's boundary: who may connect, and how bad frames are refused without harm."""

import json

import pytest
from channels.db import database_sync_to_async

from lessons_app.models import Lesson, Message
from lessons_app.tests.chat_helpers import (
    assert_silent,
    connect,
    make_lesson,
    make_user,
    receive,
    refusal,
    send,
)
from lessons_app.tutor.protocol import MAX_FRAME_BYTES

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("turn_runtime")]


async def test_anonymous_connection_is_closed_with_4401(learner):
    assert await refusal(None, "plants") == 4401


async def test_cross_origin_connection_is_refused_at_the_handshake(learner):
    _, connected, _ = await connect(learner, "plants", origin=b"https://evil.example")
    assert not connected


async def test_unknown_or_unpublished_lesson_is_refused(learner):
    await Lesson.objects.filter(slug="plants").aupdate(is_published=False)
    assert await refusal(learner, "plants") == 4404
    assert await refusal(learner, "no-such-lesson") == 4404


async def test_staff_may_open_an_unpublished_lesson():
    staff = await database_sync_to_async(make_user)("teacher", staff=True)
    await database_sync_to_async(make_lesson)()
    await Lesson.objects.filter(slug="plants").aupdate(is_published=False)
    communicator, connected, _ = await connect(staff, "plants")
    assert connected
    assert (await receive(communicator))["type"] == "history"
    await communicator.disconnect()


@pytest.mark.parametrize(
    ("raw", "code", "rejected"),
    [
        ("not json", "bad_frame", None),
        ("[1, 2]", "bad_frame", None),
        ('{"content": "no type"}', "bad_frame", None),
        ('{"type": "dance"}', "unknown_type", "dance"),
        ('{"type": "message"}', "bad_frame", "message"),
        ('{"type": "message", "content": 42}', "bad_frame", "message"),
        ('{"type": "message", "content": "   "}', "empty", "message"),
        (json.dumps({"type": "message", "content": "x" * 4001}), "too_long", "message"),
        ("x" * (MAX_FRAME_BYTES + 1), "too_long", None),
        # Under 64 Ki characters but over 64 KiB.
        (json.dumps({"content": "é" * 40_000}, ensure_ascii=False), "too_long", None),
        ('{"type": "message", "content": ' + "[" * 20_000 + "]" * 20_000 + "}", "bad_frame", None),
        ('{"type": "message", "content": "\\ud800"}', "bad_frame", None),
        ('{"type": "\\udc00"}', "bad_frame", None),
        ('{"type": "message", "content": "\\u0000"}', "empty", "message"),
        ('{"type": "stop"}', "nothing_to_stop", "stop"),
        ('{"type": "retry"}', "nothing_to_retry", "retry"),
        ('{"type": "advance", "from_stage": 0}', "bad_frame", "advance"),
        ('{"type": "advance", "from_stage": "1"}', "bad_frame", "advance"),
    ],
)
async def test_bad_frames_get_one_error_and_the_socket_stays_usable(learner, raw, code, rejected):
    communicator, connected, _ = await connect(learner, "plants")
    assert connected
    history = await receive(communicator)

    await send(communicator, raw)
    error = await receive(communicator)
    assert error["type"] == "error"
    assert error["code"] == code
    assert error["rejected"] == rejected
    assert error["message"]
    await assert_silent(communicator)

    # Still open and working: an advance is answered with the next stage.
    await send(communicator, {"type": "advance", "from_stage": history["stage"]["id"]})
    assert (await receive(communicator))["type"] == "stage"
    await communicator.disconnect()
    assert not await Message.objects.filter(role="user").aexists()


async def test_an_advance_from_an_older_page_without_from_stage_still_moves_on(learner):
    communicator, _, _ = await connect(learner, "plants")
    history = await receive(communicator)

    await send(communicator, {"type": "advance"})
    stage = await receive(communicator)
    assert stage["type"] == "stage"
    assert stage["stage"]["number"] == history["stage"]["number"] + 1
    await communicator.disconnect()


async def test_binary_frames_are_refused(learner):
    communicator, _, _ = await connect(learner, "plants")
    await receive(communicator)
    await communicator.send_to(bytes_data=b"\x00\x01")
    error = await receive(communicator)
    assert (error["type"], error["code"]) == ("error", "bad_frame")
    await communicator.disconnect()


async def test_message_limit_is_the_documented_4000_characters(learner, settings):
    assert settings.TUTOR_MAX_MESSAGE_CHARS == 4000
