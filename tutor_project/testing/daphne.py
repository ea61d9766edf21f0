"""The project served by Daphne in another process, on a loopback port."""

from __future__ import annotations

import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest
from django.conf import settings

from tutor_project.testing.ports import LOOPBACK, free_port

STARTUP_SECONDS = 30
HEALTH_POLL_SECONDS = 0.2
STOP_SECONDS = 10
OUTPUT_SHOWN_CHARS = 4000
ASGI_APPLICATION = "tutor_project.asgi:application"


@dataclass
class DaphneServer:
    """A Daphne process serving the project, and where."""

    url: str
    process: subprocess.Popen
    log_path: Path

    def output(self) -> str:
        return self.log_path.read_text()[-OUTPUT_SHOWN_CHARS:]


def _healthy(base_url: str) -> bool:
    try:
        with urllib.request.urlopen(f"{base_url}/healthz", timeout=2) as response:  # noqa: S310 - http to loopback
            return response.status == 200
    except (urllib.error.URLError, ConnectionError, TimeoutError):
        return False


def _wait_until_healthy(served: DaphneServer) -> None:
    deadline = time.monotonic() + STARTUP_SECONDS
    while not _healthy(served.url):
        if served.process.poll() is not None:
            pytest.fail(
                f"Daphne exited with {served.process.returncode} before it was healthy:\n"
                f"{served.output()}"
            )
        if time.monotonic() > deadline:
            pytest.fail(
                f"{served.url}/healthz did not answer 200 within "
                f"{STARTUP_SECONDS}s; server output:\n{served.output()}"
            )
        time.sleep(HEALTH_POLL_SECONDS)


def _stop(server: subprocess.Popen) -> None:
    if server.poll() is not None:
        return  # the test has killed it already
    server.terminate()
    try:
        server.wait(timeout=STOP_SECONDS)
    except subprocess.TimeoutExpired:
        server.kill()
        server.wait(timeout=STOP_SECONDS)


@contextmanager
def daphne_server(
    env: dict[str, str], log_path: Path, *, port: int | None = None, runserver: bool = False
) -> Iterator[DaphneServer]:
    """Serve the project with Daphne in ``env`` on loopback (a free port unless given).

    ``runserver``: through ``manage.py runserver`` (Daphne's, as ``make run`` serves)
    rather than the ``daphne`` command. Yields once ``/healthz`` answers 200, and stops
    the server on exit (unless the test has already killed it).
    """
    port = port or free_port()
    command = (
        ["manage.py", "runserver", "--noreload", f"{LOOPBACK}:{port}"]
        if runserver
        else ["-m", "daphne", "-b", LOOPBACK, "-p", str(port), ASGI_APPLICATION]
    )
    with log_path.open("w") as log:
        server = subprocess.Popen(  # noqa: S603 - fixed arguments
            [sys.executable, *command],
            cwd=settings.BASE_DIR,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    served = DaphneServer(f"http://{LOOPBACK}:{port}", server, log_path)
    try:
        _wait_until_healthy(served)
        yield served
    finally:
        _stop(server)


@contextmanager
def serve_with_daphne(env: dict[str, str], log_path: Path) -> Iterator[str]:
    """Serve the project with Daphne in ``env`` on a free loopback port; yield its base URL."""
    with daphne_server(env, log_path) as served:
        yield served.url
