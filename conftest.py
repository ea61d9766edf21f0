"""Fixtures shared by every app's tests."""

from __future__ import annotations

import ipaddress
import os
import shutil
import socket
import subprocess
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

# Fixtures kept with the code they serve.
pytest_plugins = ["lessons_app.tests.turn_engines"]

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


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def manage_py(env: dict[str, str], *args: str) -> None:
    """Run ``manage.py ARGS`` in ``env`` (another process, another database); fail loudly."""
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
        # Keys of its own in a Redis other runs share (used when REDIS_URL is set).
        "TUTOR_REDIS_PREFIX": f"tutor-e2e-{os.getpid()}",
        "E2E_LEARNER_USERNAME": RUNNING_APP_LEARNER_USERNAME,
        "E2E_LEARNER_PASSWORD": RUNNING_APP_LEARNER_PASSWORD,
        "PYTHONUNBUFFERED": "1",
    }


@dataclass
class DaphneServer:
    """A Daphne process serving the project, and where."""

    url: str
    process: subprocess.Popen
    log_path: Path

    def output(self) -> str:
        return self.log_path.read_text()[-4000:]


@contextmanager
def daphne_server(
    env: dict[str, str], log_path: Path, *, port: int | None = None
) -> Iterator[DaphneServer]:
    """Serve the project with Daphne in ``env`` on loopback (a free port unless given).

    Yields once ``/healthz`` answers 200, and stops the server on exit (unless the
    test has already killed it).
    """
    import sys
    import time
    import urllib.error
    import urllib.request

    port = port or free_port()
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
    served = DaphneServer(base_url, server, log_path)
    try:
        deadline = time.monotonic() + RUNNING_APP_STARTUP_SECONDS
        while True:
            if server.poll() is not None:
                pytest.fail(
                    f"Daphne exited with {server.returncode} before it was healthy:\n"
                    f"{served.output()}"
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
                    f"{RUNNING_APP_STARTUP_SECONDS}s; server output:\n{served.output()}"
                )
            time.sleep(0.2)
        yield served
    finally:
        if server.poll() is None:
            server.terminate()
            try:
                server.wait(timeout=10)
            except subprocess.TimeoutExpired:
                server.kill()
                server.wait(timeout=10)


@contextmanager
def serve_with_daphne(env: dict[str, str], log_path: Path) -> Iterator[str]:
    """Serve the project with Daphne in ``env`` on a free loopback port; yield its base URL."""
    with daphne_server(env, log_path) as served:
        yield served.url


def running_app_database(tmp_path_factory) -> Path:
    """The SQLite file ``running_app`` serves, for more workers or code run beside it."""
    # One per session: mktemp("running_app") numbers it (pytest adds a "...current" link too).
    [database] = tmp_path_factory.getbasetemp().glob("running_app[0-9]*/db.sqlite3")
    return database


# Runs in a long-lived `manage.py shell`: each block of code the test sends, up to the
# marker line, is executed with a fresh namespace, and the outcome is printed after the mark.
_SHELL_MARK = "\x00tutor-shell"
_SHELL_LOOP = f"""
import json, sys, traceback
from django.db import connections
while True:
    lines = []
    for line in sys.stdin:
        if line.rstrip("\\n") == {_SHELL_MARK!r} + " run":
            break
        lines.append(line)
    else:
        break
    try:
        exec(compile("".join(lines), "<test code>", "exec"), {{}})
        outcome = "ok"
    except BaseException:
        outcome = json.dumps(traceback.format_exc())
    finally:
        connections.close_all()
    print({_SHELL_MARK!r}, outcome, flush=True)
"""


class AppShell:
    """One ``manage.py shell`` process in a served app's environment, running code on request.

    It stands in for another process of the deployment (an admin, a management
    command), with its own database connections, and pays Django's and LiteLLM's
    start-up once instead of for every call.
    """

    def __init__(self, env: dict[str, str]) -> None:
        import sys
        import threading

        self._lock = threading.Lock()
        self.process = subprocess.Popen(  # noqa: S603 - fixed arguments, our own manage.py
            [sys.executable, "manage.py", "shell", "-c", _SHELL_LOOP],
            cwd=settings.BASE_DIR,
            env=env,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            bufsize=1,
        )

    def run(self, code: str) -> None:
        """Run ``code`` there; fail the test with its traceback if it raises."""
        import json

        with self._lock:
            self.process.stdin.write(f"{code}\n{_SHELL_MARK} run\n")
            self.process.stdin.flush()
            output = []
            for line in self.process.stdout:
                if line.startswith(_SHELL_MARK):
                    outcome = line[len(_SHELL_MARK) :].strip()
                    break
                output.append(line)
            else:
                pytest.fail(f"the app's shell exited:\n{''.join(output[-40:])}")
        if outcome != "ok":
            pytest.fail(f"code in the app's shell failed:\n{json.loads(outcome)}")

    def close(self) -> None:
        self.process.stdin.close()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=10)


_SET_UP_RUNNING_APP = """
from django.core.management import call_command
call_command("migrate", interactive=False, verbosity=0)
call_command("load_demo", verbosity=0)
"""


@pytest.fixture(scope="session")
def _running_app_parts(tmp_path_factory):
    workdir = tmp_path_factory.mktemp("running_app")
    env = running_app_env(workdir / "db.sqlite3")
    shell = AppShell(env)
    try:
        shell.run(_SET_UP_RUNNING_APP + _CREATE_LEARNER)
        yield env, workdir, shell
    finally:
        shell.close()


@pytest.fixture(scope="session")
def running_app(_running_app_parts):
    """The project served by Daphne on 127.0.0.1 as production runs it, with the demo lesson.

    A fresh SQLite file keeps it apart from the test database; DEBUG is off with
    HTTPS-only settings relaxed for plain http on loopback. A learner account
    RUNNING_APP_LEARNER_USERNAME / RUNNING_APP_LEARNER_PASSWORD exists. Yields the
    base URL, e.g. ``http://127.0.0.1:54321``.
    """
    env, workdir, _ = _running_app_parts
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
    console_errors=..., base_url=...)`` gives a fresh context (1280x800 unless told,
    ``running_app`` as its base URL unless another served app's is given) with one page
    in it. Requests to the app's own origin and in-browser data:, blob: and about: URLs
    go through. Any other is refused, since a
    page must work with no CDN and no network, and recorded, unless its host is in
    ``ignored_hosts`` (such as an embedded video's). Uncaught page errors are recorded,
    and so are console errors unless ``console_errors`` is false.

    A test ends with ``opened.close_and_assert_local_and_error_free()``; the contexts
    are closed at teardown too, so a failing test leaves none open.
    """
    contexts: list[BrowserContext] = []

    def open_page(
        *,
        viewport: dict[str, int] | None = None,
        timeout_ms: int = 15_000,
        ignored_hosts: tuple[str, ...] = (),
        console_errors: bool = True,
        base_url: str = running_app,
    ) -> LocalPage:
        loopback = urlsplit(base_url).netloc
        context = browser.new_context(
            viewport=viewport or {"width": 1280, "height": 800}, base_url=base_url
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
def running_app_shell(running_app, _running_app_parts):
    """Run Python in the ``running_app`` server's project, in a process of its own.

    For end-to-end tests that set up what the server will read, such as an account
    or the demo tutor's ``extra_params`` (providers are read afresh on every turn).
    One long-lived ``manage.py shell`` (:class:`AppShell`) runs every call.
    """
    return _running_app_parts[2].run
