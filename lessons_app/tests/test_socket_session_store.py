"""The socket's session store reads the sessions Django's database store writes, as it does."""

import json
from datetime import timedelta

import pytest
from channels.db import database_sync_to_async
from channels.testing import WebsocketCommunicator
from django.contrib.sessions.backends.db import SessionStore
from django.contrib.sessions.models import Session
from django.utils import timezone

from lessons_app.tests.chat_helpers import (
    ORIGIN,
    RECEIVE_TIMEOUT,
    application,
    make_learner,
    session_cookie,
)
from lessons_app.tutor.database import SocketSessionStore


def saved_session(**data) -> str:
    store = SessionStore()
    store.update(data)
    store.save()
    return store.session_key


@pytest.mark.django_db
def test_it_reads_what_django_s_store_wrote_and_writes_what_it_reads():
    key = saved_session(colour="green", count=3)

    store = SocketSessionStore(key)

    assert store.load() == SessionStore(key).load() == {"colour": "green", "count": 3}
    store["count"] = 4
    store.save()
    assert SessionStore(key).load() == {"colour": "green", "count": 4}


@pytest.mark.django_db
def test_an_expired_or_unknown_session_is_empty_and_loses_its_key_as_in_django_s_store():
    key = saved_session(colour="green")
    Session.objects.filter(pk=key).update(expire_date=timezone.now() - timedelta(seconds=1))

    for session_key in (key, "nosuchsessionkey", None):
        mine, theirs = SocketSessionStore(session_key), SessionStore(session_key)
        assert mine.load() == theirs.load() == {}
        assert mine.session_key is theirs.session_key is None


async def open_with(cookie: str) -> dict:
    """The first thing the server sends a socket opened with ``cookie``."""
    headers = [(b"origin", ORIGIN), (b"host", b"127.0.0.1"), (b"cookie", cookie.encode())]
    communicator = WebsocketCommunicator(application, "/ws/lessons/plants/chat/", headers)
    connected, _ = await communicator.connect(timeout=RECEIVE_TIMEOUT)
    assert connected
    output = await communicator.receive_output(timeout=RECEIVE_TIMEOUT)
    await communicator.disconnect()
    return output


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("turn_runtime")
async def test_a_socket_whose_session_has_expired_is_refused_as_logged_out():
    learner = await make_learner()
    cookie = await database_sync_to_async(session_cookie)(learner)
    opened = await open_with(cookie)
    assert json.loads(opened["text"])["type"] == "history"

    await Session.objects.aupdate(expire_date=timezone.now() - timedelta(seconds=1))

    assert await open_with(cookie) == {"type": "websocket.close", "code": 4401}
