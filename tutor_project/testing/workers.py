"""What keeps pytest-xdist workers apart where they share a file or a service.

Each worker has its own test database (pytest-django suffixes a PostgreSQL one's name;
SQLite's is a file named for the worker and its process), its own ``tmp_path`` tree and
its own served app (``running_app``, whose Redis keys carry the worker's process id).
This plugin handles the rest:

- The development database (``db.sqlite3``, or ``DATABASE_URL``'s, before pytest-django
  swaps in the test database): a process on the in-memory turn engine locks it when the
  ASGI application is imported, which the chat tests do while collecting, so a second
  worker, or a test run beside ``make run``, would be refused. The test process serves
  no one from that database: SQLite's entry is pointed at memory (the test database is
  a file of the worker's own), and a PostgreSQL one gets a name of this worker's, with the test
  database's name kept as pytest-django derives it.
- Redis, which all workers share: the turn engine's keys are under a prefix per test
  (``turn_runtime``), and each worker gets a channel-layer prefix of its own, so that
  one worker flushing its channel layer (test_channel_layer.py) cannot delete another's
  messages, nor those of a served app's ``/healthz``.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from django.conf import settings

# pytest-xdist names its workers gw0, gw1, ...; a run without it has no worker name.
WORKER = os.environ.get("PYTEST_XDIST_WORKER", "main")
# Ends with a separator, so that no worker's prefix starts with another's (gw1, gw10).
CHANNEL_LAYER_PREFIX = f"asgi-test-{WORKER}:"
SQLITE_IN_MEMORY = ":memory:"
MEMORY_ENGINE = "memory"


def _sqlite_test_database() -> str:
    # A file, as a served SQLite database is: SQLite's in-memory databases lock whole
    # tables and fail at once (instead of waiting) when two of the chat's database
    # threads write together.
    return str(Path(tempfile.gettempdir()) / f"tutor-test-{WORKER}-{os.getpid()}.sqlite3")


def pytest_configure(config: pytest.Config) -> None:
    database = settings.DATABASES["default"]
    if database["ENGINE"].endswith("sqlite3"):
        database["NAME"] = SQLITE_IN_MEMORY
        database.setdefault("TEST", {})["NAME"] = _sqlite_test_database()
    elif settings.TUTOR_TURN_ENGINE == MEMORY_ENGINE:
        database.setdefault("TEST", {}).setdefault("NAME", f"test_{database['NAME']}")
        database["NAME"] = f"{database['NAME']}_{WORKER}"


@pytest.fixture(autouse=True, scope="session")
def _channel_layer_of_this_worker() -> Iterator[None]:
    config = settings.CHANNEL_LAYERS["default"].setdefault("CONFIG", {})
    if "hosts" not in config:  # the in-memory layer lives in this process only
        yield
        return
    config["prefix"] = CHANNEL_LAYER_PREFIX
    yield
    del config["prefix"]
