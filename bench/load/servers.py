"""The served app under test: Daphne processes, started, restarted and stopped.

``start_workers`` is the one place that decides how N worker processes are started
(each its own Daphne on its own port; the load client balances learners evenly).
``Supervised`` is the production way instead, ``python -m tutor_project.serve``: N
workers on one port, replaced on SIGHUP (the rolling restart, bench/load/rolling.py).
"""

from __future__ import annotations

import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from bench.load.config import BARE_API_BASE_ENV, ROOT, raise_file_limit
from tutor_project.serve.sockets import LISTEN_BACKLOG
from tutor_project.serve.supervisor import STOP_SECONDS as SUPERVISOR_STOP_SECONDS
from tutor_project.serve.worker import (
    WEBSOCKET_CONNECT_TIMEOUT_OPTION,
    WEBSOCKET_CONNECT_TIMEOUT_SECONDS,
    signal_me_when_my_parent_dies,
)

ASGI_APPLICATION = "tutor_project.asgi:application"
# The floor the tutor is measured against: Daphne and Channels around LiteLLM, nothing else.
BARE_APPLICATION = "bench.load.bare_app:application"
DAPHNE = (sys.executable, "-m", "daphne")
SERVE = (sys.executable, "-m", "tutor_project.serve")
# What ``python -m tutor_project.serve`` gives each worker besides its socket.
SERVE_OPTIONS = (WEBSOCKET_CONNECT_TIMEOUT_OPTION, str(WEBSOCKET_CONNECT_TIMEOUT_SECONDS))
LOOPBACK = "127.0.0.1"
STARTUP_SECONDS = 90.0
STOP_SECONDS = 30.0
HEALTH_POLL_SECONDS = 0.05


def _healthy(base_url: str) -> bool:
    try:
        with urllib.request.urlopen(f"{base_url}/healthz", timeout=2) as response:  # noqa: S310 - loopback
            return response.status == 200
    except (urllib.error.URLError, ConnectionError, TimeoutError):
        return False


def _listening(port: int) -> bool:
    """Whether a process accepts connections on ``port`` (no request: nothing to queue behind)."""
    try:
        with socket.create_connection((LOOPBACK, port), timeout=1):
            return True
    except OSError:
        return False


def rss_kib(pid: int) -> int:
    """Resident memory of process ``pid``, KiB."""
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise LookupError(f"no VmRSS for {pid}")


def before_exec() -> None:
    """In a benchmark's child, before it runs: thousands of sockets' worth of open files,
    and SIGTERM when the benchmark dies, however it dies (a benchmark stopped by a
    signal runs none of its clean-up, and its servers went on serving)."""
    raise_file_limit()
    signal_me_when_my_parent_dies()


def _start(command: list[str], env: dict[str, str], log: Path) -> subprocess.Popen:
    """``command`` in the project's directory, its output appended to ``log``."""
    with log.open("a") as out:
        return subprocess.Popen(  # noqa: S603 - our own fixed commands
            command,
            cwd=ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            preexec_fn=before_exec,
        )


def _wait_until_healthy(
    url: str, process: subprocess.Popen, why_not: Callable[[], str], timeout: float
) -> float:
    """Block until ``url``/healthz answers 200; the ``time.monotonic()`` it first did."""
    deadline = time.monotonic() + timeout
    while not _healthy(url):
        if process.poll() is not None:
            raise RuntimeError(f"the server exited: {why_not()}")
        if time.monotonic() > deadline:
            raise RuntimeError(f"the server was not healthy in {timeout:.0f}s: {why_not()}")
        time.sleep(HEALTH_POLL_SECONDS)
    return time.monotonic()


def _stop(process: subprocess.Popen | None, timeout: float) -> None:
    """SIGTERM, and SIGKILL if it has not exited within ``timeout``."""
    if process is None or process.poll() is not None:
        return
    process.terminate()
    try:
        process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


@dataclass
class Server:
    """One Daphne process serving the project (or ``application``) in ``env`` on ``port``."""

    env: dict[str, str]
    port: int
    log: Path
    application: str = ASGI_APPLICATION
    process: subprocess.Popen | None = field(default=None, repr=False)

    @property
    def url(self) -> str:
        return f"http://{LOOPBACK}:{self.port}"

    @property
    def pid(self) -> int:
        return self.process.pid

    @property
    def endpoint(self) -> str:
        """Daphne's port with ``serve``'s listen backlog: with Twisted's default of 50,
        a reconnect storm measures the backlog's overflow, not the server."""
        return f"tcp:port={self.port}:interface={LOOPBACK}:backlog={LISTEN_BACKLOG}"

    def last_error(self) -> str:
        """The last line of the log that names an error: why it is not healthy."""
        lines = self.log.read_text().splitlines()
        return next((line for line in reversed(lines) if "Error" in line), "no error logged")

    def launch(self) -> None:
        command = [*DAPHNE, "-e", self.endpoint, *SERVE_OPTIONS, self.application]
        self.process = _start(command, self.env, self.log)

    def wait_until_healthy(self, timeout: float = STARTUP_SECONDS) -> float:
        """Block until /healthz answers 200; the ``time.monotonic()`` it first did."""
        return _wait_until_healthy(self.url, self.process, self.why_unhealthy, timeout)

    def why_unhealthy(self) -> str:
        return f"{self.log}: {self.last_error()}"

    def wait_until_listening(self, timeout: float = STARTUP_SECONDS) -> float:
        """Block until the port accepts connections; the ``time.monotonic()`` it first did.

        Daphne listens once the application is loaded. Unlike /healthz this does not
        wait behind the requests already queued, so a reconnect storm cannot delay it.
        """
        deadline = time.monotonic() + timeout
        while not _listening(self.port):
            if self.process.poll() is not None:
                raise RuntimeError(f"Daphne exited ({self.log}): {self.last_error()}")
            if time.monotonic() > deadline:
                raise RuntimeError(f"Daphne not listening in {timeout:.0f}s: {self.last_error()}")
            time.sleep(HEALTH_POLL_SECONDS)
        return time.monotonic()

    def stop(self) -> None:
        _stop(self.process, STOP_SECONDS)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind((LOOPBACK, 0))
        return probe.getsockname()[1]


@dataclass
class Workers:
    """N worker processes serving one deployment; learners are split evenly over ``urls``."""

    servers: list[Server]

    @property
    def urls(self) -> list[str]:
        return [server.url for server in self.servers]

    @property
    def pids(self) -> list[int]:
        return [server.pid for server in self.servers]

    def subset(self, count: int) -> Workers:
        """The first ``count`` workers, as a deployment of their own."""
        return Workers(self.servers[:count])

    def wait_until_healthy(self, timeout: float = STARTUP_SECONDS) -> float:
        return max(server.wait_until_healthy(timeout) for server in self.servers)

    def rss_kib(self) -> int:
        return sum(rss_kib(pid) for pid in self.pids)

    def launch(self) -> None:
        """Every worker started (again, on its port), not waiting for it."""
        for server in self.servers:
            server.launch()

    def wait_until_listening(self, timeout: float = STARTUP_SECONDS) -> float:
        return max(server.wait_until_listening(timeout) for server in self.servers)

    def stop(self) -> None:
        for server in self.servers:
            server.stop()


def start_workers(env: dict[str, str], count: int, logs: Path, name: str) -> Workers:
    """Start ``count`` worker processes in ``env`` (not waiting for them: see
    ``Workers.wait_until_healthy``), each a Daphne on a free port of its own."""
    workers = Workers(
        [
            Server(env, port, logs / f"{name}-{n}.log")
            for n, port in enumerate(free_port() for _ in range(count))
        ]
    )
    for server in workers.servers:
        server.launch()
    return workers


def start_bare(env: dict[str, str], api_base: str, logs: Path) -> Server:
    """The bare consumer (bench/load/bare_app.py) on a free port, calling ``api_base``;
    listening once this returns."""
    env = {**env, BARE_API_BASE_ENV: api_base}
    server = Server(env, free_port(), logs / "bare.log", application=BARE_APPLICATION)
    server.launch()
    server.wait_until_listening()
    return server


@dataclass
class Supervised:
    """``python -m tutor_project.serve --workers N`` on one port, as docs/deployment.md
    runs it: the kernel spreads connections over the workers, SIGHUP replaces them."""

    env: dict[str, str]
    workers: int
    log: Path
    port: int = field(default_factory=free_port)
    process: subprocess.Popen | None = field(default=None, repr=False)

    @property
    def url(self) -> str:
        return f"http://{LOOPBACK}:{self.port}"

    def start(self) -> None:
        command = [*SERVE, "--workers", f"{self.workers}", "--host", LOOPBACK]
        self.process = _start([*command, "--port", f"{self.port}"], self.env, self.log)

    def wait_until_healthy(self, timeout: float = STARTUP_SECONDS) -> float:
        return _wait_until_healthy(self.url, self.process, lambda: f"{self.log}", timeout)

    def replace_workers(self) -> None:
        """SIGHUP: the supervisor replaces every worker with a new process."""
        self.process.send_signal(signal.SIGHUP)

    def stop(self) -> None:
        # The supervisor's own stop: its workers' time to save their turns, then kills.
        _stop(self.process, SUPERVISOR_STOP_SECONDS + STOP_SECONDS)
