"""What opening a chat socket asks of the database: two trips, both after the handshake.

After a deploy every learner's socket reconnects at once, and each trip waits its
turn for one of the chat's database threads: the user (from the session, checked as
Channels checks them) with the lesson and the learner's conversation, then the history.
Whether the stage still needs its opening message is read from that history, not asked
again. Two trips, not one: the socket watches the conversation between them, so that a
turn starting meanwhile is either in the history or seen live.

And each table once: the progress and the stages were read twice, the ratings apart
from the messages; the lesson is read with the conversation. A learner's first socket
on a lesson writes what it must (the conversation, the progress and its start marker)
without reading first what it has just found missing.
"""

from __future__ import annotations

import re
import threading

import pytest
from channels.db import DatabaseSyncToAsync, database_sync_to_async
from django.db.backends.utils import CursorWrapper

from lessons_app.models import Stage
from lessons_app.tests.chat_helpers import make_lesson, make_user, open_chat
from lessons_app.tutor import database

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("turn_runtime")]

# The user (from the session) with the lesson and the conversation; the history.
TRIPS_TO_OPEN = ["admit", "chat_state"]
# The tables each trip reads, one query each, in order.
QUERIES_TO_OPEN = [
    # admit: the session and its user (as Channels checks them), the conversation with its lesson.
    "django_session",
    "auth_user",
    "lessons_app_conversation",
    # chat_state: where the learner is, the lesson's stages, the messages with their ratings.
    "lessons_app_lessonprogress",
    "lessons_app_stage",
    "lessons_app_message",
]
# A learner's first socket on a lesson starts their conversation and the lesson (its
# start marker): the rows it writes, and each table it reads once more only to write.
QUERIES_TO_OPEN_FIRST = [
    "django_session",
    "auth_user",
    "lessons_app_conversation",  # none yet
    "lessons_app_lesson",
    "INSERT lessons_app_conversation",
    "lessons_app_lessonprogress",  # none yet
    "lessons_app_stage",  # the first stage, in the transaction that starts the lesson
    "INSERT lessons_app_lessonprogress",
    "INSERT lessons_app_message",
    "lessons_app_stage",
    "lessons_app_message",
]
TABLE = re.compile(r'\b(?:FROM|(INSERT) INTO|(UPDATE)) "(\w+)"')


@pytest.fixture
def trips(monkeypatch):
    """The functions handed to the chat's database threads, by name, as they are called."""
    called: list[str] = []
    call = DatabaseSyncToAsync.__call__

    async def counting_call(self, *args, **kwargs):
        if self._executor is database._pool:
            called.append(self.func.__name__)
        return await call(self, *args, **kwargs)

    monkeypatch.setattr(DatabaseSyncToAsync, "__call__", counting_call)
    return called


@pytest.fixture
def queries(monkeypatch):
    """The table of each query the chat's database threads run, as they run them (its
    verb too, for a write)."""
    tables: list[str] = []
    execute = CursorWrapper.execute

    def counting_execute(self, sql, params=None):
        on_pool = threading.current_thread().name.startswith(database._pool._thread_name_prefix)
        # Transactions' own statements (SQLite's BEGIN, savepoints) are left out.
        found = TABLE.search(sql) if on_pool else None
        if found:
            verb = found.group(1) or found.group(2)
            tables.append(f"{verb} {found.group(3)}" if verb else found.group(3))
        return execute(self, sql, params)

    monkeypatch.setattr(CursorWrapper, "execute", counting_execute)
    return tables


async def reopen(user, trips):
    """A socket opened and closed again; its history and its trips to the database."""
    trips.clear()
    communicator, history = await open_chat(user)
    await communicator.disconnect()
    return history, list(trips)


async def test_a_socket_on_an_article_stage_opens_in_two_trips(trips):
    user = await database_sync_to_async(make_user)()
    await database_sync_to_async(make_lesson)()
    await reopen(user, trips)  # the first visit starts the lesson (and the turn runtime)

    history, opened_with = await reopen(user, trips)

    assert history["stage"]["kind"] == Stage.Kind.ARTICLE
    assert opened_with == TRIPS_TO_OPEN


async def test_an_opened_chat_stage_is_not_asked_about_again(trips):
    user = await database_sync_to_async(make_user)()

    def chat_lesson():
        lesson = make_lesson(first_kind=Stage.Kind.CHAT)
        lesson.stages.update(opening_message="Where does a tree's mass come from?")

    await database_sync_to_async(chat_lesson)()
    _, first_opened_with = await reopen(user, trips)
    history, opened_with = await reopen(user, trips)

    # The first socket saved the author's opening (one trip more); the next one shows it.
    assert first_opened_with[-3:] == [*TRIPS_TO_OPEN, "open_stage"]
    openings = [m for m in history["messages"] if m["role"] == "assistant"]
    assert [m["content"] for m in openings] == ["Where does a tree's mass come from?"]
    assert opened_with == TRIPS_TO_OPEN


async def test_a_socket_reads_each_table_once(trips, queries):
    user = await database_sync_to_async(make_user)()
    await database_sync_to_async(make_lesson)()
    await reopen(user, trips)
    queries.clear()

    await reopen(user, trips)

    assert queries == QUERIES_TO_OPEN


async def test_a_first_socket_starts_the_lesson_reading_each_table_once_more_at_most(
    trips, queries
):
    user = await database_sync_to_async(make_user)()
    await database_sync_to_async(make_lesson)()
    # Another learner's socket starts the turn runtime (its sweep queries too).
    await reopen(await database_sync_to_async(make_user)("neighbour"), trips)
    queries.clear()

    history, _ = await reopen(user, trips)

    assert [m["role"] for m in history["messages"]] == ["system"]  # the start marker
    assert queries == QUERIES_TO_OPEN_FIRST
