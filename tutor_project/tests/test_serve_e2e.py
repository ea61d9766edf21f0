"""``python -m tutor_project.serve --workers 2`` for real, on the Redis turn engine.

A connection made while the workers still load waits for them (it is not refused). Both
workers answer on the one port (``/healthz`` says which process answered, and
new connections are spread over the workers' sockets by the kernel), and SIGTERM to
the supervisor ends every worker before it exits. The database is migrated while the
workers import (both cost seconds); nothing asks for a page before it is done.
"""

from __future__ import annotations

import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from pathlib import Path

import pytest
from django.conf import settings

from tutor_project.testing.ports import LOOPBACK, free_port
from tutor_project.testing.required_services import require_redis
from tutor_project.testing.served_env import served_env
from tutor_project.views import WORKER_PID_HEADER

WORKERS = 2
# The workers import in parallel (seconds each, for LiteLLM); a busy CI machine is slower.
ANSWERED_WITHIN_SECONDS = 90
POLL_SECONDS = 0.2
LOG_POLL_SECONDS = 0.02
STOPPED_WITHIN_SECONDS = 60
MIGRATE_SECONDS = 180
OUTPUT_SHOWN_CHARS = 4000


def _env(database: Path) -> dict[str, str]:
    return {
        **served_env(
            database,
            secret_key="serve-e2e-test-only-secret-key-5d81",
            redis_prefix=f"tutor-serve-{uuid.uuid4().hex[:10]}",
        ),
        "REDIS_URL": require_redis(),
        "TUTOR_TURN_ENGINE": "redis",
    }


def _start(command: list[str], env: dict[str, str], log: Path) -> subprocess.Popen:
    with log.open("w") as output:
        return subprocess.Popen(  # noqa: S603 - fixed arguments
            [sys.executable, *command],
            cwd=settings.BASE_DIR,
            env=env,
            stdout=output,
            stderr=subprocess.STDOUT,
        )


def _answering_pid(url: str) -> str | None:
    """The pid of the worker that answered ``/healthz`` on a new connection, if one did."""
    try:
        with urllib.request.urlopen(f"{url}/healthz", timeout=5) as response:  # noqa: S310 - loopback
            return response.headers[WORKER_PID_HEADER]
    except (urllib.error.URLError, ConnectionError, TimeoutError):
        return None  # no worker listens yet


def _answering_workers(url: str, supervisor: subprocess.Popen, log: Path) -> set[int]:
    """Ask on new connections until ``WORKERS`` distinct workers have answered."""
    pids: set[int] = set()
    deadline = time.monotonic() + ANSWERED_WITHIN_SECONDS
    while len(pids) < WORKERS and time.monotonic() < deadline:
        if supervisor.poll() is not None:
            pytest.fail(f"serve exited with {supervisor.returncode}:\n{_tail(log)}")
        pid = _answering_pid(url)
        if pid is None:
            time.sleep(POLL_SECONDS)
        else:
            pids.add(int(pid))
    return pids


def _connect_once_a_worker_started(port: int, supervisor: subprocess.Popen, log: Path):
    """A connection to the port made as soon as the supervisor says it started a worker:
    seconds before any worker has loaded the application and could listen itself."""
    deadline = time.monotonic() + ANSWERED_WITHIN_SECONDS
    while "worker 1 started" not in log.read_text():
        if supervisor.poll() is not None or time.monotonic() > deadline:
            pytest.fail(f"serve started no worker:\n{_tail(log)}")
        time.sleep(LOG_POLL_SECONDS)
    return socket.create_connection((LOOPBACK, port), timeout=ANSWERED_WITHIN_SECONDS)


def _healthz_status(connection: socket.socket) -> bytes:
    connection.sendall(b"GET /healthz HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
    return connection.makefile("rb").readline()


def _parent_of(pid: int) -> int:
    # /proc/PID/stat: "pid (name) state ppid ...", and the name may hold spaces.
    return int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1])


def _tail(log: Path) -> str:
    return log.read_text()[-OUTPUT_SHOWN_CHARS:]


def test_two_workers_answer_on_one_port_and_sigterm_ends_them_all(tmp_path):
    env = _env(tmp_path / "db.sqlite3")
    migrate = _start(["manage.py", "migrate", "--noinput"], env, tmp_path / "migrate.log")
    port = free_port()
    command = ["-m", "tutor_project.serve", "--workers", str(WORKERS)]
    command += ["--host", LOOPBACK, "--port", str(port)]
    supervisor = _start(command, env, tmp_path / "serve.log")
    try:
        # Not refused while the workers load: it waits in the kernel's queue for them.
        early = _connect_once_a_worker_started(port, supervisor, tmp_path / "serve.log")
        assert migrate.wait(timeout=MIGRATE_SECONDS) == 0, _tail(tmp_path / "migrate.log")
        with early:
            assert _healthz_status(early).startswith(b"HTTP/1.1 200")
        pids = _answering_workers(f"http://{LOOPBACK}:{port}", supervisor, tmp_path / "serve.log")
        assert len(pids) == WORKERS, f"only {pids} answered:\n{_tail(tmp_path / 'serve.log')}"
        assert {_parent_of(pid) for pid in pids} == {supervisor.pid}

        supervisor.send_signal(signal.SIGTERM)
        assert supervisor.wait(timeout=STOPPED_WITHIN_SECONDS) == 0, _tail(tmp_path / "serve.log")
        # It waited for its workers (and reaped them): none is left, not even a zombie.
        assert [pid for pid in pids if Path(f"/proc/{pid}").exists()] == []
    finally:
        if supervisor.poll() is None:
            supervisor.kill()  # its workers get SIGTERM from the kernel (PR_SET_PDEATHSIG)
            supervisor.wait()
        if migrate.poll() is None:
            migrate.kill()
            migrate.wait()


LEARNER, LEARNER_PASSWORD = "deploy-learner", "deploy-learner-password-2291"
TABS = 3
STORY = "A seed lands on warm soil, a root goes down, a shoot comes up, and the tree grows."


def _set_up_learner_and_provider(api_base: str) -> str:
    """The learner, and the fake Claude server as the default tutor (it can hold a reply)."""
    return f"""
from django.contrib.auth import get_user_model
from llm_app.models import ProviderConfig
from llm_app.services import make_default
get_user_model().objects.create_user(username={LEARNER!r}, password={LEARNER_PASSWORD!r})
make_default(ProviderConfig.objects.create(
    name="Fake Claude", model="anthropic/claude-sonnet-4-20250514", api_base={api_base!r},
    api_key="test-key-deploy", max_retries=0, timeout_seconds=60,
))
"""


def _pid_other_than(url: str, old: int, supervisor: subprocess.Popen, log: Path) -> int:
    deadline = time.monotonic() + ANSWERED_WITHIN_SECONDS
    while time.monotonic() < deadline:
        if supervisor.poll() is not None:
            pytest.fail(f"serve exited with {supervisor.returncode}:\n{_tail(log)}")
        pid = _answering_pid(url)
        if pid is not None and int(pid) != old:
            return int(pid)
        time.sleep(POLL_SECONDS)
    pytest.fail(f"no new worker answered:\n{_tail(log)}")


async def test_a_deploy_closes_the_old_workers_chat_sockets_and_lets_its_turn_finish(tmp_path):
    """SIGHUP: the replaced worker closes its sockets with 1012 (tutor_project.serve.drain),
    on which pages reconnect at once; the new worker lets them in, and the reply held
    mid-stream meanwhile goes on in the old worker, followed from the new, to its end."""
    import asyncio

    import aiohttp

    from lessons_app.tests.served_app import (
        cookie_jar,
        log_in,
        open_chat,
        receive_turn,
        receive_until,
        send,
        set_up_app,
    )
    from lessons_app.tests.test_e2e_lesson import DEMO_SLUG
    from llm_app.testing import FakeAnthropicServer, Reply
    from tutor_project.serve.drain import SERVICE_RESTART

    env = _env(tmp_path / "db.sqlite3")
    port, log = free_port(), tmp_path / "serve.log"
    url = f"http://{LOOPBACK}:{port}"
    command = ["-m", "tutor_project.serve", "--workers", "1", "--host", LOOPBACK]
    with FakeAnthropicServer() as claude:
        await asyncio.to_thread(set_up_app, env, _set_up_learner_and_provider(claude.url))
        claude.enqueue(Reply.text(STORY, chunks=6, pause_at=2))
        supervisor = _start([*command, "--port", str(port)], env, log)
        try:
            old = await asyncio.to_thread(_pid_other_than, url, 0, supervisor, log)
            async with aiohttp.ClientSession(cookie_jar=cookie_jar()) as browser:
                await log_in(browser, url, LEARNER, LEARNER_PASSWORD)
                tabs = [(await open_chat(browser, url, DEMO_SLUG))[0] for _ in range(TABS)]
                await send(tabs[0], {"type": "message", "content": "How does a tree grow?"})
                await receive_until(tabs[0], "text")
                await asyncio.to_thread(claude.wait_until_paused, ANSWERED_WITHIN_SECONDS)

                supervisor.send_signal(signal.SIGHUP)
                for tab in tabs:
                    closing = await tab.receive(timeout=ANSWERED_WITHIN_SECONDS)
                    while closing.type == aiohttp.WSMsgType.TEXT:  # the reply's frames so far
                        closing = await tab.receive(timeout=ANSWERED_WITHIN_SECONDS)
                    assert closing.type == aiohttp.WSMsgType.CLOSE, closing
                    assert closing.data == SERVICE_RESTART
                new = await asyncio.to_thread(_pid_other_than, url, old, supervisor, log)
                reopened, history = await open_chat(browser, url, DEMO_SLUG)  # on the new one
                assert history["turn"] is not None, "the reply is held: still in flight"
                claude.resume()
                ending = (await receive_turn(reopened))[-1]
            assert new != old
            assert ending["type"] == "done", ending  # finished, not interrupted by the deploy
            assert f"closing {TABS} chat sockets" in log.read_text()
        finally:
            claude.resume()
            supervisor.send_signal(signal.SIGTERM)
            try:
                supervisor.wait(timeout=STOPPED_WITHIN_SECONDS)
            except subprocess.TimeoutExpired:
                supervisor.kill()
                supervisor.wait()
