"""Durable turns in a real browser: a reload mid-reply, two tabs, a server crash.

The offline demo tutor answers, slowed down so that a reply is still streaming when
the test reloads, opens a second tab or kills the server. Screenshots go to
``test-artifacts/``.
"""

from __future__ import annotations

import signal
import subprocess
import sys

import pytest
from django.conf import settings

from lessons_app.tests.served_app import app_env, reply_row, set_up_app, wait_for_checkpoint
from lessons_app.tests.test_e2e_chat import (
    SET_WORD_DELAY,
    last_reply,
    reply_count,
    send,
    wait_for_connection,
    wait_for_reply,
)
from lessons_app.tests.test_e2e_lesson import DEMO_SLUG, EMBED_HOST
from tutor_project.testing.browser import log_in
from tutor_project.testing.daphne import daphne_server
from tutor_project.testing.ports import free_port

LEARNER = "e2e-durable-learner"
PASSWORD = "e2e-durable-learner-password-8812"


def create_learner(username: str, password: str) -> str:
    return f"""
from django.contrib.auth import get_user_model
get_user_model().objects.create_user(username={username!r}, password={password!r})
"""


# Slow enough that a reply (some 25 words) is mid-stream whatever the test does next.
SLOW_WORD_DELAY_SECONDS = 0.4
TIMEOUT_MS = 30_000
# The newest tutor reply's text as shown (markdown rendered), trimmed.
REPLY_TEXT_JS = (
    "() => [...document.querySelectorAll(\"[data-chat-messages] > li[data-role='assistant']\")]"
    ".pop().querySelector('.chat-body').textContent.trim()"
)


@pytest.fixture(scope="module")
def durable_learner(running_app_shell) -> str:
    running_app_shell(create_learner(LEARNER, PASSWORD))
    return LEARNER


@pytest.fixture
def slow_demo(running_app_shell):
    running_app_shell(SET_WORD_DELAY.format(delay=SLOW_WORD_DELAY_SECONDS))
    yield
    running_app_shell(SET_WORD_DELAY.format(delay=0.06))


def wait_for_history(page) -> None:
    """The socket is open and its history shown (Send may wait for a reply in flight)."""
    page.locator("[data-chat-status]").wait_for(state="hidden")


def open_lesson(page) -> None:
    page.goto(f"/lessons/{DEMO_SLUG}/")
    wait_for_connection(page)


@pytest.mark.browser
def test_a_reply_streams_on_through_a_reload_and_a_second_tab_sees_it_and_can_stop_it(
    local_page, durable_learner, slow_demo, artifacts_dir
):
    opened = local_page(timeout_ms=TIMEOUT_MS, ignored_hosts=(EMBED_HOST,))
    page = opened.page
    log_in(page, "/accounts/login/", durable_learner, PASSWORD)
    open_lesson(page)

    # --- Reload mid-reply: the same reply carries on streaming, to the end, once.
    replies = reply_count(page)
    send(page, "Why does testing yourself work?")
    partial = wait_for_reply(page, "streaming", count=replies + 1, longer_than=10)
    seen = page.evaluate(REPLY_TEXT_JS)
    page.reload()
    wait_for_history(page)  # Send stays disabled: the reply is still being written
    wait_for_reply(page, "streaming", count=replies + 1, longer_than=partial)
    assert page.evaluate(REPLY_TEXT_JS).startswith(seen)
    assert page.get_by_role("button", name="Stop").is_visible()
    page.screenshot(path=str(artifacts_dir / "durable-after-reload.png"))
    wait_for_reply(page, "complete", count=replies + 1)
    finished = page.evaluate(REPLY_TEXT_JS)
    page.reload()
    wait_for_connection(page)
    assert page.evaluate(REPLY_TEXT_JS) == finished, "what streamed is what was saved"

    # --- A second tab sees the next reply live, and its Stop stops it in both.
    other = opened.context.new_page()
    open_lesson(other)  # the reply before is complete: both tabs can send
    replies = reply_count(page)
    send(page, "And what about spacing?")
    wait_for_reply(other, "streaming", count=replies + 1, longer_than=0)
    assert other.locator("li[data-role='user'] .chat-bubble").last.inner_text() == (
        "And what about spacing?"
    )
    assert other.get_by_role("button", name="Send", exact=True).is_disabled()
    other.screenshot(path=str(artifacts_dir / "durable-second-tab.png"))
    other.get_by_role("button", name="Stop").click()
    for tab in (page, other):
        wait_for_reply(tab, "stopped", count=replies + 1)
        assert last_reply(tab).get_by_role("button", name="Retry this reply").is_visible()
    assert page.evaluate(REPLY_TEXT_JS) == other.evaluate(REPLY_TEXT_JS)
    page.screenshot(path=str(artifacts_dir / "durable-stopped-from-other-tab.png"))

    opened.close_and_assert_local_and_error_free()


def start_refused(env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run(  # noqa: S603 - fixed arguments
        [sys.executable, "-m", "daphne", "-p", str(free_port()), "tutor_project.asgi:application"],
        cwd=settings.BASE_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=90,
        check=False,
    )


@pytest.mark.browser
def test_a_killed_server_restarts_into_an_interrupted_reply_with_retry(
    local_page, tmp_path, artifacts_dir
):
    """One process on the in-memory engine: it refuses a second, and a restart sweeps."""
    database = f"sqlite:///{tmp_path / 'db.sqlite3'}"
    env = app_env(database, redis_url=None)
    set_up_app(
        env,
        create_learner(LEARNER, PASSWORD) + SET_WORD_DELAY.format(delay=SLOW_WORD_DELAY_SECONDS),
    )
    port = free_port()
    with daphne_server(env, tmp_path / "before.log", port=port) as app:
        second = start_refused(env)
        assert second.returncode != 0
        assert "in-memory turn engine" in second.stderr
        assert "REDIS_URL" in second.stderr

        # Chromium logs the refused reconnects while the server is down as console errors.
        opened = local_page(
            timeout_ms=TIMEOUT_MS,
            base_url=app.url,
            console_errors=False,
            ignored_hosts=(EMBED_HOST,),
        )
        page = opened.page
        log_in(page, "/accounts/login/", LEARNER, PASSWORD)
        open_lesson(page)
        send(page, "Tell me about retrieval practice")
        wait_for_reply(page, "streaming", longer_than=10)
        had = page.evaluate(REPLY_TEXT_JS)
        reply_id = int(last_reply(page).get_attribute("data-message-id"))
        wait_for_checkpoint(database, reply_id, had)
        app.process.send_signal(signal.SIGKILL)
        app.process.wait(timeout=10)
        page.get_by_text("Reconnecting…").wait_for()

    with daphne_server(env, tmp_path / "after.log", port=port):
        # Started means swept: the start-up sweep runs before the first request is served.
        status, code, content = reply_row(database, reply_id)
        assert (status, code) == ("interrupted", "interrupted")
        assert content.startswith(had)
        wait_for_history(page)
        wait_for_reply(page, "interrupted")
        reply = last_reply(page)
        assert reply.get_by_text("Interrupted", exact=True).is_visible()
        assert reply.locator(".chat-body").inner_text().startswith(had.strip()[:20])
        retry = reply.get_by_role("button", name="Retry this reply")
        assert retry.is_visible()
        page.screenshot(path=str(artifacts_dir / "durable-interrupted.png"))
        replies = reply_count(page)
        retry.click()
        wait_for_reply(page, "streaming", count=replies + 1, longer_than=0)
        opened.close_and_assert_local_and_error_free()
