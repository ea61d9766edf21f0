"""A default switched in the database is used by the next message in every worker process.

Two Daphne processes serve one database and one Redis, as two production workers
would. A learner has a chat socket open on each; a third process (``manage.py
shell``, standing in for the admin) makes a provider that points at the fake OpenAI
server the default. The next turn started on either worker goes to it, with no
restart, and both sockets see each turn (they share the learner's conversation).
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator

import aiohttp
import pytest

from lessons_app.tests.served_app import log_in, open_chat
from lessons_app.tests.test_e2e_lesson import DEMO_SLUG
from llm_app.services import DEMO_PROVIDER_NAME
from tutor_project.testing.daphne import serve_with_daphne
from tutor_project.testing.required_services import require_redis
from tutor_project.testing.running_app import running_app_database, running_app_env

LEARNER = "switch-learner"
LEARNER_PASSWORD = "switch-learner-password-4417"
SWITCHED_TO = "Fake OpenAI (worker switch)"
TURN_TIMEOUT_SECONDS = 30

CREATE_LEARNER = f"""
from django.contrib.auth import get_user_model
get_user_model().objects.create_user(username={LEARNER!r}, password={LEARNER_PASSWORD!r})
"""
RESTORE_DEMO_DEFAULT = f"""
from llm_app.models import ProviderConfig
from llm_app.services import make_default
make_default(ProviderConfig.objects.get(name={DEMO_PROVIDER_NAME!r}))
ProviderConfig.objects.filter(name={SWITCHED_TO!r}).delete()
"""


def switch_default_to(api_base: str) -> str:
    return f"""
from llm_app.models import ProviderConfig
from llm_app.services import make_default
config = ProviderConfig.objects.create(
    name={SWITCHED_TO!r}, model="openai/gpt-4o-mini", api_base={api_base!r},
    api_key="test-key-worker-switch",
)
make_default(config)
"""


@pytest.fixture
def second_worker(running_app: str, tmp_path_factory, tmp_path) -> Iterator[str]:
    """Another Daphne process on the ``running_app`` database (and Redis: a second
    process on the in-memory turn engine is refused)."""
    require_redis()
    env = running_app_env(running_app_database(tmp_path_factory))
    with serve_with_daphne(env, tmp_path / "second-worker.log") as base_url:
        yield base_url


@pytest.fixture
def learner(running_app_shell) -> None:
    running_app_shell(CREATE_LEARNER)
    yield
    running_app_shell(
        "from django.contrib.auth import get_user_model\n"
        f"get_user_model().objects.filter(username={LEARNER!r}).delete()"
    )


async def provider_seen(socket) -> str:
    """The provider the next turn's ``usage`` frame on ``socket`` names."""
    usage = None
    async with asyncio.timeout(TURN_TIMEOUT_SECONDS):
        while True:
            frame = await socket.receive_json()
            if frame["type"] == "usage":
                usage = frame
            elif frame["type"] == "error":
                pytest.fail(f"the turn failed: {frame}")
            elif frame["type"] == "done":
                assert usage is not None, "a finished turn reports its usage first"
                return usage["provider"]


async def provider_of_next_reply(sender, sockets) -> str:
    """Send a message on ``sender``; the provider that answered, as every socket saw it."""
    await sender.send_str(json.dumps({"type": "message", "content": "Which part matters most?"}))
    [provider, *others] = [await provider_seen(socket) for socket in sockets]
    assert others == [provider] * len(others), "every socket sees the same turn"
    return provider


async def test_switching_the_default_reaches_open_sockets_on_every_worker(
    running_app: str, second_worker: str, running_app_shell, learner, openai_server
) -> None:
    jar = aiohttp.CookieJar(unsafe=True)  # keep cookies for 127.0.0.1
    async with aiohttp.ClientSession(cookie_jar=jar) as session:
        # The session is in the shared database, so it is good on both workers.
        await log_in(session, running_app, LEARNER, LEARNER_PASSWORD)
        sockets = [
            (await open_chat(session, base, DEMO_SLUG))[0] for base in (running_app, second_worker)
        ]
        try:
            assert [await provider_of_next_reply(s, sockets) for s in sockets] == [
                DEMO_PROVIDER_NAME
            ] * 2
            assert openai_server.requests == []

            await asyncio.to_thread(running_app_shell, switch_default_to(openai_server.url))

            assert [await provider_of_next_reply(s, sockets) for s in sockets] == [SWITCHED_TO] * 2
            assert [call.model for call in openai_server.requests] == ["gpt-4o-mini"] * 2
        finally:
            for socket in sockets:
                await socket.close()
            await asyncio.to_thread(running_app_shell, RESTORE_DEMO_DEFAULT)
