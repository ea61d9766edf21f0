"""Fixtures shared by every app's tests."""

import os
import shutil
from pathlib import Path

import pytest
from django.conf import settings

IN_CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}
CHROMIUM_PATH = "/usr/bin/chromium"
ARTIFACTS_DIR = Path(settings.BASE_DIR) / "test-artifacts"


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


@pytest.fixture(scope="session")
def browser(chromium_executable):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=chromium_executable, args=CHROMIUM_ARGS, headless=True
        )
        yield browser
        browser.close()
