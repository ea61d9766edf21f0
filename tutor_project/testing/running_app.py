"""One served app per test process: the project on Daphne as production runs it, and a shell.

Under pytest-xdist each worker that runs a test using it starts its own (its own SQLite
file, its own Redis prefix), so tests on different workers never see each other's
accounts or settings. ``make test`` distributes by file (``--dist loadfile``), which keeps
a module's tests, and their module-scoped accounts and browser, on one worker.
(``--dist loadgroup`` would keep all of them on one worker, but pytest-xdist 3.8 does not
group on pytest 9.2: pytest-dev/pytest-xdist#1386.)
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import NamedTuple

import pytest

from tutor_project.testing.app_shell import AppShell
from tutor_project.testing.daphne import serve_with_daphne
from tutor_project.testing.served_env import served_env

RUNNING_APP_LEARNER_USERNAME = "e2e-learner"
RUNNING_APP_LEARNER_PASSWORD = "e2e-learner-password-7351"  # noqa: S105 - a throwaway test DB
RUNNING_APP_FIXTURE = "running_app"

_SET_UP_RUNNING_APP = """
from django.core.management import call_command
call_command("migrate", interactive=False, verbosity=0)
call_command("load_demo", verbosity=0)
"""
_CREATE_LEARNER = """\
import os
from django.contrib.auth import get_user_model
get_user_model().objects.create_user(
    username=os.environ["E2E_LEARNER_USERNAME"], password=os.environ["E2E_LEARNER_PASSWORD"]
)
"""


class Account(NamedTuple):
    username: str
    password: str


def running_app_env(database: Path) -> dict[str, str]:
    """The environment ``running_app`` serves with, and ``running_app_shell`` runs code in."""
    return {
        # Keys of its own in a Redis other runs (and other xdist workers) share, when
        # REDIS_URL is set: one served app per worker process.
        **served_env(
            database,
            secret_key="running-app-test-only-secret-key-0f3c9a",  # noqa: S106 - test-only
            redis_prefix=f"tutor-e2e-{os.getpid()}",
        ),
        "E2E_LEARNER_USERNAME": RUNNING_APP_LEARNER_USERNAME,
        "E2E_LEARNER_PASSWORD": RUNNING_APP_LEARNER_PASSWORD,
    }


def running_app_database(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The SQLite file ``running_app`` serves, for more workers or code run beside it."""
    # One per session: mktemp("running_app") numbers it (pytest adds a "...current" link too).
    [database] = tmp_path_factory.getbasetemp().glob("running_app[0-9]*/db.sqlite3")
    return database


@pytest.fixture(scope="session")
def _running_app_parts(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[dict[str, str], Path, AppShell]]:
    workdir = tmp_path_factory.mktemp("running_app")
    env = running_app_env(workdir / "db.sqlite3")
    shell = AppShell(env)
    try:
        shell.run(_SET_UP_RUNNING_APP + _CREATE_LEARNER)
        yield env, workdir, shell
    finally:
        shell.close()


@pytest.fixture(scope="session")
def running_app(_running_app_parts) -> Iterator[str]:
    """The project served by Daphne on 127.0.0.1 as production runs it, with the demo lesson.

    A fresh SQLite file keeps it apart from the test database; DEBUG is off with
    HTTPS-only settings relaxed for plain http on loopback. A learner account
    RUNNING_APP_LEARNER_USERNAME / RUNNING_APP_LEARNER_PASSWORD exists (also the
    ``running_app_learner`` fixture). Yields the base URL, e.g. ``http://127.0.0.1:54321``.
    """
    env, workdir, _ = _running_app_parts
    with serve_with_daphne(env, workdir / "daphne.log") as base_url:
        yield base_url


@pytest.fixture(scope="session")
def running_app_shell(running_app, _running_app_parts) -> Callable[[str], None]:
    """Run Python in the ``running_app`` server's project, in a process of its own.

    For end-to-end tests that set up what the server will read, such as an account
    or the demo tutor's ``extra_params`` (providers are read afresh on every turn).
    One long-lived ``manage.py shell`` (:class:`AppShell`) runs every call.
    """
    return _running_app_parts[2].run


def seed_running_app(run: Callable[[str], None], script: str, spec: dict, directory: Path) -> dict:
    """Run ``script`` in the served app's shell (``run`` is ``running_app_shell``); what it wrote.

    The shell runs code but returns nothing, so a seeding script gets ``spec`` (JSON, in
    place of ``{spec}``) with an ``out`` path added, and writes its answer there as JSON.
    """
    out = directory / "seeded.json"
    run(script.format(spec=json.dumps({**spec, "out": str(out)})))
    return json.loads(out.read_text())


@pytest.fixture(scope="session")
def running_app_learner() -> Account:
    """The learner account ``running_app`` has, for tests that may not import this module."""
    return Account(RUNNING_APP_LEARNER_USERNAME, RUNNING_APP_LEARNER_PASSWORD)


@pytest.hookimpl(trylast=True)  # after pytest-django's, which puts tests without a database last
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Under xdist, start with the tests that use ``running_app``: the run's slowest files.

    Started last, they would finish last, on one worker, while the other has nothing left
    to do. Every worker orders alike, as xdist requires; a run without xdist keeps the
    order pytest-django gives.
    """
    if not hasattr(config, "workerinput"):
        return
    uses_app = [item for item in items if RUNNING_APP_FIXTURE in item.fixturenames]
    others = [item for item in items if RUNNING_APP_FIXTURE not in item.fixturenames]
    items[:] = uses_app + others
