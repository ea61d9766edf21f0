"""Headless Chromium through Playwright, on pages that can reach nothing but the app.

Screenshots go to ``test-artifacts/`` (``artifacts_dir``); every test names its own
files, so workers running at once never write the same one.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

import pytest
from django.conf import settings

from tutor_project.testing.required_services import require

if TYPE_CHECKING:
    from playwright.sync_api import Browser, BrowserContext, ConsoleMessage, Page, Route

CHROMIUM_PATH = "/usr/bin/chromium"
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
ARTIFACTS_DIR = Path(settings.BASE_DIR) / "test-artifacts"
DEFAULT_VIEWPORT = {"width": 1280, "height": 800}
DEFAULT_TIMEOUT_MS = 15_000
# URLs a page makes for itself, which never leave the browser.
IN_BROWSER_SCHEMES = ("data:", "blob:", "about:")


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


@pytest.fixture(scope="module")
def browser(chromium_executable: str) -> Iterator[Browser]:
    # Module scope, not session: Playwright's sync API keeps an event loop running in the
    # main thread while it is open, and pytest-asyncio cannot run async tests beside it.
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=chromium_executable, args=CHROMIUM_ARGS, headless=True
        )
        yield browser
        browser.close()


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


@pytest.fixture(name="log_in")
def log_in_fixture() -> Callable[[Page, str, str, str], None]:
    """:func:`log_in`, for tests that may not import this module (``llm_app``'s)."""
    return log_in


def _keep_it_local(
    loopback: str, ignored_hosts: tuple[str, ...], outside_requests: list[str]
) -> Callable[[Route], None]:
    def route_request(route: Route) -> None:
        url = route.request.url
        host = urlsplit(url).netloc
        if host == loopback or url.startswith(IN_BROWSER_SCHEMES):
            route.continue_()
            return
        if host not in ignored_hosts:
            outside_requests.append(url)
        route.abort()

    return route_request


def _record_errors(opened: LocalPage, *, console_errors: bool) -> None:
    opened.page.on("pageerror", lambda error: opened.page_errors.append(str(error)))
    if console_errors:

        def record_console_error(message: ConsoleMessage) -> None:
            if message.type == "error":
                opened.page_errors.append(message.text)

        opened.page.on("console", record_console_error)


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
        timeout_ms: int = DEFAULT_TIMEOUT_MS,
        ignored_hosts: tuple[str, ...] = (),
        console_errors: bool = True,
        base_url: str = running_app,
    ) -> LocalPage:
        context = browser.new_context(viewport=viewport or DEFAULT_VIEWPORT, base_url=base_url)
        contexts.append(context)
        context.set_default_timeout(timeout_ms)
        outside_requests: list[str] = []
        loopback = urlsplit(base_url).netloc
        context.route("**/*", _keep_it_local(loopback, ignored_hosts, outside_requests))
        opened = LocalPage(context, context.new_page(), outside_requests)
        _record_errors(opened, console_errors=console_errors)
        return opened

    yield open_page
    for context in contexts:
        context.close()  # a no-op for one the test has closed already
