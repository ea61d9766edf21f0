"""Real services a test needs (PostgreSQL, Redis, Chromium): skip locally, fail in CI.

CI (``.ci/run``) starts every service, so a test that would skip there is broken.
"""

from __future__ import annotations

import os

import pytest
from django.conf import settings

IN_CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}
POSTGRES_ENGINE = "django.db.backends.postgresql"
NEEDS_POSTGRES = "needs PostgreSQL: set DATABASE_URL=postgres://postgres@127.0.0.1:5432/tutor"
NEEDS_REDIS = "needs Redis: set REDIS_URL=redis://127.0.0.1:6379/0"


def require(condition: bool, reason: str) -> None:
    """Skip locally when a real service is missing; in CI, fail instead."""
    if condition:
        return
    if IN_CI:
        pytest.fail(f"{reason} (CI must have it: tests may not skip there)")
    pytest.skip(reason)


def require_postgres() -> None:
    require(settings.DATABASES["default"]["ENGINE"] == POSTGRES_ENGINE, NEEDS_POSTGRES)


def require_redis() -> str:
    """``REDIS_URL``, which the test needs."""
    url = os.environ.get("REDIS_URL", "")
    require(bool(url), NEEDS_REDIS)
    return url


@pytest.fixture
def postgres_db(db) -> None:
    require_postgres()
