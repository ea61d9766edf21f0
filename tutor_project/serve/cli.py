"""The command line of ``python -m tutor_project.serve``, and what it checks before starting.

``python -m tutor_project.serve [--workers N] [--host H] [--port P] [--proxy-headers]
[-- more daphne options]``

Everything that can be wrong with the configuration is found here, before a single
worker spends seconds importing: several workers need a turn engine that shares turns
between processes (Redis), and the settings must load. The settings are the project's
(``django.conf.settings``, which reads the environment); the supervisor never sets up
the apps, so this costs a fraction of a second.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from functools import partial

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

from lessons_app.tutor.engines import engine_class
from tutor_project.serve.errors import Misconfigured
from tutor_project.serve.sockets import reserve, worker_socket
from tutor_project.serve.supervisor import SignalInbox, Supervisor, spawn_worker

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8000
# Measured on a 2-core machine (docs/deployment.md): more workers than cores gain nothing.
WORKERS_PER_CORE = 1
EXIT_MISCONFIGURED = 2
# Daphne's options that say where to listen: the supervisor decides that.
LISTENING_OPTIONS = frozenset(
    {"-b", "--bind", "-p", "--port", "--fd", "-u", "--unix-socket", "-e", "--endpoint"}
)
DAPHNE_OPTIONS_MARK = "--"
SQLITE_ENGINE_SUFFIX = "sqlite3"
LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s %(message)s"

logger = logging.getLogger("tutor.serve")


@dataclass(frozen=True)
class ServeOptions:
    workers: int
    host: str = DEFAULT_HOST
    port: int = DEFAULT_PORT
    # Passed to every worker's Daphne as given, e.g. ("--proxy-headers",).
    daphne_options: tuple[str, ...] = ()


def default_workers() -> int:
    """One worker per core (see :data:`WORKERS_PER_CORE`)."""
    return WORKERS_PER_CORE * (os.cpu_count() or 1)


def _positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, not {value}")
    return value


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m tutor_project.serve",
        description="Serve Tutor with N Daphne workers sharing one port (SO_REUSEPORT). "
        "More than one worker needs the Redis turn engine (REDIS_URL). "
        "Options after -- go to every worker's daphne.",
    )
    parser.add_argument("--workers", type=_positive, default=None, help="default: one per core")
    parser.add_argument("--host", default=DEFAULT_HOST, help=f"default: {DEFAULT_HOST}")
    parser.add_argument("--port", type=int, default=DEFAULT_PORT, help=f"default: {DEFAULT_PORT}")
    parser.add_argument(
        "--proxy-headers",
        action="store_true",
        help="behind a proxy: take the client's address from X-Forwarded-For",
    )
    return parser


def parse_options(argv: Sequence[str]) -> ServeOptions:
    """The options ``argv`` asks for; argparse exits with a usage message on bad ones."""
    argv = list(argv)
    split = argv.index(DAPHNE_OPTIONS_MARK) if DAPHNE_OPTIONS_MARK in argv else len(argv)
    own, daphne_options = argv[:split], argv[split + 1 :]
    parser = _parser()
    args = parser.parse_args(own)
    clashing = [o for o in daphne_options if o.split("=", 1)[0] in LISTENING_OPTIONS]
    if clashing:
        parser.error(f"{' '.join(clashing)}: use --host and --port; each worker gets a socket")
    if args.proxy_headers:
        daphne_options.insert(0, "--proxy-headers")
    workers = args.workers or default_workers()
    return ServeOptions(workers, args.host, args.port, tuple(daphne_options))


def check_turn_engine(workers: int) -> None:
    """Refuse several workers on a turn engine that keeps turns inside one process."""
    try:
        engine = engine_class()
    except ImproperlyConfigured as exc:
        raise Misconfigured(str(exc)) from None
    if workers > 1 and engine.single_process:
        raise Misconfigured(
            f"{workers} workers need a turn engine shared between processes, and "
            f"TUTOR_TURN_ENGINE is {engine.name!r}, which keeps turns inside one process. "
            "Set REDIS_URL (the Redis engine is then the default), or serve with --workers 1."
        )


def deployment_warnings(workers: int) -> list[str]:
    """What works but will not serve several workers well."""
    if workers > 1 and settings.DATABASES["default"]["ENGINE"].endswith(SQLITE_ENGINE_SUFFIX):
        return [
            "SQLite takes one write at a time for all workers; use PostgreSQL "
            "(DATABASE_URL=postgres://...) for more than one."
        ]
    return []


def _log_to_stderr() -> None:
    """The supervisor's own lines; the workers log as the settings say (``LOGGING``)."""
    if logger.handlers:
        return
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter(LOG_FORMAT))
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    logger.propagate = False


def main(argv: Sequence[str] | None = None) -> int:
    """Check the configuration, then supervise the workers until SIGTERM or SIGINT."""
    _log_to_stderr()
    options = parse_options(sys.argv[1:] if argv is None else argv)
    try:
        check_turn_engine(options.workers)
        address = reserve(options.host, options.port)
    except (Misconfigured, ImproperlyConfigured) as exc:
        logger.error("not serving: %s", exc)
        return EXIT_MISCONFIGURED
    for warning in deployment_warnings(options.workers):
        logger.warning("%s", warning)
    supervisor = Supervisor(
        options.workers,
        new_socket=partial(worker_socket, address),
        spawn=partial(spawn_worker, daphne_options=options.daphne_options, cwd=settings.BASE_DIR),
    )
    logger.info("serving %s with %d workers", address.url(), options.workers)
    inbox = SignalInbox()
    inbox.install()
    try:
        return supervisor.run(inbox)
    except Misconfigured as exc:
        logger.error("not serving: %s", exc)
        return EXIT_MISCONFIGURED
