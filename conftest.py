"""Fixtures shared by every app's tests."""

from __future__ import annotations

import ipaddress
import os
import shutil
import socket
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

import pytest
from django.conf import settings

if TYPE_CHECKING:
    from django.db.models import Model
    from django.http import HttpResponse
    from playwright.sync_api import Browser, BrowserContext, ConsoleMessage, Page, Route

IN_CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}
CHROMIUM_PATH = "/usr/bin/chromium"
ARTIFACTS_DIR = Path(settings.BASE_DIR) / "test-artifacts"


_real_getaddrinfo = socket.getaddrinfo


def _is_local(host: str | bytes | None) -> bool:
    if isinstance(host, bytes):
        host = host.decode()
    if host in (None, "", "localhost", "testserver"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _local_only_getaddrinfo(host, *args, **kwargs):
    if not _is_local(host):
        raise OSError(f"Tests may only reach 127.0.0.1, not {host!r} (see conftest.py).")
    return _real_getaddrinfo(host, *args, **kwargs)


@pytest.fixture(autouse=True, scope="session")
def _no_network_beyond_loopback():
    """Make a real provider (or any other outside host) unreachable from every test."""
    socket.getaddrinfo = _local_only_getaddrinfo
    yield
    socket.getaddrinfo = _real_getaddrinfo


def require(condition: bool, reason: str) -> None:
    """Skip locally when a real service is missing; in CI, fail instead."""
    if condition:
        return
    if IN_CI:
        pytest.fail(f"{reason} (CI must have it: tests may not skip there)")
    pytest.skip(reason)


@pytest.fixture
def postgres_db(db):
    require(
        settings.DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql",
        "needs PostgreSQL: set DATABASE_URL=postgres://postgres@127.0.0.1:5432/tutor",
    )


@pytest.fixture
def run_together() -> Callable[..., list[BaseException]]:
    """Run ``target(index)`` in ``threads`` threads released at the same instant.

    Returns the errors they raised. Each thread closes its own database connection, so
    on PostgreSQL the calls really race as two requests would.
    """
    import threading

    from django.db import connection

    def run(target: Callable[[int], object], threads: int = 2) -> list[BaseException]:
        barrier = threading.Barrier(threads)
        errors: list[BaseException] = []

        def worker(index: int) -> None:
            try:
                barrier.wait(timeout=10)
                target(index)
            except BaseException as exc:  # noqa: BLE001 - collected and asserted on by the test
                errors.append(exc)
            finally:
                connection.close()

        workers = [threading.Thread(target=worker, args=(index,)) for index in range(threads)]
        for thread in workers:
            thread.start()
        for thread in workers:
            thread.join(timeout=30)
        assert not any(thread.is_alive() for thread in workers), "a worker hung"
        return errors

    return run


@pytest.fixture
def run_admin_action(admin_client) -> Callable[..., HttpResponse]:
    """Run an admin action on ``objects`` from their model's change list, as staff would.

    Returns the page the admin shows afterwards (or the action's own response,
    such as a download).
    """
    from django.urls import reverse

    def run(action: str, *objects: Model) -> HttpResponse:
        opts = objects[0]._meta
        return admin_client.post(
            reverse(f"admin:{opts.app_label}_{opts.model_name}_changelist"),
            {"action": action, "_selected_action": [obj.pk for obj in objects]},
            follow=True,
        )

    return run


@pytest.fixture
def artifacts_dir() -> Path:
    ARTIFACTS_DIR.mkdir(exist_ok=True)
    return ARTIFACTS_DIR


@pytest.fixture(scope="session")
def chromium_executable() -> str:
    require(
        Path(CHROMIUM_PATH).exists() or shutil.which("chromium") is not None,
        "needs Debian's Chromium: apt-get install -y chromium",
    )
    return CHROMIUM_PATH


CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-quic",
    "--no-first-run",
]


@pytest.fixture(scope="module")
def browser(chromium_executable):
    # Module scope, not session: Playwright's sync API keeps an event loop running in the
    # main thread while it is open, and pytest-asyncio cannot run async tests beside it.
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=chromium_executable, args=CHROMIUM_ARGS, headless=True
        )
        yield browser
        browser.close()


# --- A real server for end-to-end tests ---------------------------------------

RUNNING_APP_LEARNER_USERNAME = "e2e-learner"
RUNNING_APP_LEARNER_PASSWORD = "e2e-learner-password-7351"  # noqa: S105 - a throwaway test DB
RUNNING_APP_STARTUP_SECONDS = 30

_CREATE_LEARNER = """\
import os
from django.contrib.auth import get_user_model
get_user_model().objects.create_user(
    username=os.environ["E2E_LEARNER_USERNAME"], password=os.environ["E2E_LEARNER_PASSWORD"]
)
"""


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _manage(env: dict[str, str], *args: str) -> None:
    import subprocess
    import sys

    result = subprocess.run(  # noqa: S603 - fixed arguments, our own manage.py
        [sys.executable, "manage.py", *args],
        cwd=settings.BASE_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    if result.returncode != 0:
        pytest.fail(
            f"`manage.py {' '.join(args)}` failed ({result.returncode}):\n"
            f"{result.stdout[-3000:]}\n{result.stderr[-3000:]}"
        )


def running_app_env(database: Path) -> dict[str, str]:
    """The environment ``running_app`` serves with, and ``running_app_shell`` runs code in.

    Production-like (DEBUG off) on a fresh SQLite file, with the HTTPS-only
    settings relaxed for plain http on loopback and static files served from the
    apps without a collectstatic manifest.
    """
    return {
        **os.environ,
        "DATABASE_URL": f"sqlite:///{database}",
        "DEBUG": "0",
        "SECRET_KEY": "running-app-test-only-secret-key-0f3c9a",
        "ALLOWED_HOSTS": "127.0.0.1,localhost",
        "SECURE_SSL_REDIRECT": "0",
        "SESSION_COOKIE_SECURE": "0",
        "CSRF_COOKIE_SECURE": "0",
        "SECURE_HSTS_SECONDS": "0",
        "WHITENOISE_USE_FINDERS": "1",
        "STATIC_MANIFEST": "0",
        "LITELLM_LOCAL_MODEL_COST_MAP": "True",
        "E2E_LEARNER_USERNAME": RUNNING_APP_LEARNER_USERNAME,
        "E2E_LEARNER_PASSWORD": RUNNING_APP_LEARNER_PASSWORD,
        "PYTHONUNBUFFERED": "1",
    }


@contextmanager
def serve_with_daphne(env: dict[str, str], log_path: Path) -> Iterator[str]:
    """Serve the project with Daphne in ``env`` on a free loopback port; yield its base URL.

    Returns once ``/healthz`` answers 200, and stops the server on exit.
    """
    import subprocess
    import sys
    import time
    import urllib.error
    import urllib.request

    port = _free_port()
    base_url = f"http://127.0.0.1:{port}"
    with log_path.open("w") as log:
        server = subprocess.Popen(  # noqa: S603 - fixed arguments
            [
                sys.executable,
                "-m",
                "daphne",
                "-b",
                "127.0.0.1",
                "-p",
                str(port),
                "tutor_project.asgi:application",
            ],
            cwd=settings.BASE_DIR,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    try:
        deadline = time.monotonic() + RUNNING_APP_STARTUP_SECONDS
        while True:
            if server.poll() is not None:
                pytest.fail(
                    f"Daphne exited with {server.returncode} before it was healthy:\n"
                    f"{log_path.read_text()[-4000:]}"
                )
            try:
                with urllib.request.urlopen(f"{base_url}/healthz", timeout=2) as response:  # noqa: S310 - http to loopback
                    if response.status == 200:
                        break
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                pass
            if time.monotonic() > deadline:
                pytest.fail(
                    f"{base_url}/healthz did not answer 200 within "
                    f"{RUNNING_APP_STARTUP_SECONDS}s; server output:\n"
                    f"{log_path.read_text()[-4000:]}"
                )
            time.sleep(0.2)
        yield base_url
    finally:
        server.terminate()
        try:
            server.wait(timeout=10)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait(timeout=10)


def running_app_database(tmp_path_factory) -> Path:
    """The SQLite file ``running_app`` serves, for more workers or code run beside it."""
    # One per session: mktemp("running_app") numbers it (pytest adds a "...current" link too).
    [database] = tmp_path_factory.getbasetemp().glob("running_app[0-9]*/db.sqlite3")
    return database


@pytest.fixture(scope="session")
def running_app(tmp_path_factory):
    """The project served by Daphne on 127.0.0.1 as production runs it, with the demo lesson.

    A fresh SQLite file keeps it apart from the test database; DEBUG is off with
    HTTPS-only settings relaxed for plain http on loopback. A learner account
    RUNNING_APP_LEARNER_USERNAME / RUNNING_APP_LEARNER_PASSWORD exists. Yields the
    base URL, e.g. ``http://127.0.0.1:54321``.
    """
    workdir = tmp_path_factory.mktemp("running_app")
    env = running_app_env(workdir / "db.sqlite3")
    _manage(env, "migrate", "--noinput")
    _manage(env, "load_demo")
    _manage(env, "shell", "-c", _CREATE_LEARNER)
    with serve_with_daphne(env, workdir / "daphne.log") as base_url:
        yield base_url


# --- Browser pages that stay on the running app -------------------------------

# URLs a page makes for itself, which never leave the browser.
IN_BROWSER_SCHEMES = ("data:", "blob:", "about:")


@dataclass
class LocalPage:
    """A page opened by ``local_page``, and what it did that a test must not let pass."""

    context: BrowserContext
    page: Page
    # Every URL outside the running app the pages asked for (each one was refused).
    outside_requests: list[str] = field(default_factory=list)
    # Uncaught exceptions, and console errors where they are watched.
    page_errors: list[str] = field(default_factory=list)

    def close_and_assert_local_and_error_free(self) -> None:
        """Close the context, then fail if a page reached outside the app or reported an error.

        Closing first delivers any events still on their way, so none slips past the
        check. Called at the end of each test, so that a failure points at that test.
        """
        __tracebackhide__ = True
        self.context.close()
        assert self.outside_requests == [], (
            f"pages asked for outside hosts (no CDNs, no network): {self.outside_requests}"
        )
        assert self.page_errors == [], f"pages raised or logged errors: {self.page_errors}"


def log_in(page: Page, login_path: str, username: str, password: str) -> None:
    """Log in through a login form (the site's or the admin's) and wait for the next page."""
    page.goto(login_path)
    page.locator("#id_username").fill(username)
    page.locator("#id_password").fill(password)
    with page.expect_navigation():
        page.get_by_role("button", name="Log in").click()


@pytest.fixture
def local_page(browser: Browser, running_app: str) -> Iterator[Callable[..., LocalPage]]:
    """Open pages on ``running_app`` that can reach nothing else, recording what they try.

    A factory: ``local_page(viewport=..., timeout_ms=..., ignored_hosts=...,
    console_errors=...)`` gives a fresh context (1280x800 unless told, ``running_app``
    as its base URL) with one page in it. Requests to the app's own origin and
    in-browser data:, blob: and about: URLs go through. Any other is refused, since a
    page must work with no CDN and no network, and recorded, unless its host is in
    ``ignored_hosts`` (such as an embedded video's). Uncaught page errors are recorded,
    and so are console errors unless ``console_errors`` is false.

    A test ends with ``opened.close_and_assert_local_and_error_free()``; the contexts
    are closed at teardown too, so a failing test leaves none open.
    """
    loopback = urlsplit(running_app).netloc
    contexts: list[BrowserContext] = []

    def open_page(
        *,
        viewport: dict[str, int] | None = None,
        timeout_ms: int = 15_000,
        ignored_hosts: tuple[str, ...] = (),
        console_errors: bool = True,
    ) -> LocalPage:
        context = browser.new_context(
            viewport=viewport or {"width": 1280, "height": 800}, base_url=running_app
        )
        contexts.append(context)
        context.set_default_timeout(timeout_ms)
        outside_requests: list[str] = []

        def keep_it_local(route: Route) -> None:
            url = route.request.url
            host = urlsplit(url).netloc
            if host == loopback or url.startswith(IN_BROWSER_SCHEMES):
                route.continue_()
                return
            if host not in ignored_hosts:
                outside_requests.append(url)
            route.abort()

        context.route("**/*", keep_it_local)
        opened = LocalPage(context, context.new_page(), outside_requests)
        opened.page.on("pageerror", lambda error: opened.page_errors.append(str(error)))
        if console_errors:

            def record_console_error(message: ConsoleMessage) -> None:
                if message.type == "error":
                    opened.page_errors.append(message.text)

            opened.page.on("console", record_console_error)
        return opened

    yield open_page
    for context in contexts:
        context.close()  # a no-op for one the test has closed already


# --- Fake LLM providers on 127.0.0.1, one fresh server per test ---------------


@pytest.fixture
def anthropic_server():
    from llm_app.testing import FakeAnthropicServer

    with FakeAnthropicServer() as server:
        yield server


@pytest.fixture
def gemini_server():
    from llm_app.testing import FakeGeminiServer

    with FakeGeminiServer() as server:
        yield server


@pytest.fixture
def openai_server():
    from llm_app.testing import FakeOpenAIServer

    with FakeOpenAIServer() as server:
        yield server


@pytest.fixture(scope="session")
def running_app_shell(running_app, tmp_path_factory):
    """Run Python in the ``running_app`` server's project (``manage.py shell -c CODE``).

    For end-to-end tests that set up what the server will read, such as an account
    or the demo tutor's ``extra_params`` (providers are read afresh on every turn).
    The server's database is the one the ``running_app`` fixture made under pytest's
    base temporary directory.
    """
    env = running_app_env(running_app_database(tmp_path_factory))

    def run(code: str) -> None:
        _manage(env, "shell", "-c", code)

    return run
