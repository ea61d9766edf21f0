"""One worker of ``python -m tutor_project.serve``: Daphne on the socket its supervisor bound.

``python -m tutor_project.serve.worker --listen-fd N --ready-fd R --supervisor PID -- [daphne
options]``

The supervisor starts it; it is not meant to be run by hand. In order, it:

1. asks Linux to send it SIGTERM if the supervisor dies (even by SIGKILL), so no worker
   is left serving on the port with no one to stop it;
2. loads the application (seconds: LiteLLM's import), and only then listens on the
   socket, so the kernel hands it no connection before it can answer, unless no worker
   served when it started: then its supervisor listened already, and the connections
   that came meanwhile wait for it;
3. runs Daphne's own command line on that socket (``--fd``), and says on its readiness
   pipe that it serves once Twisted runs (Daphne has adopted the socket by then, or has
   given up without running it);
4. replaced by new workers (``REPLACED_SIGNAL``), closes its listening socket and its
   chat sockets, at a pace the new workers can take (``tutor_project.serve.drain``),
   lets its turns in flight finish (their pages follow them from the new workers), then
   stops as on SIGTERM;
5. at shutdown (SIGTERM: at once), first closes its listening socket (new connections
   go to the other workers), then sends the application the ASGI ``lifespan.shutdown``
   Daphne does not send, on which the project closes this process's turn runtime: the
   turns in flight are saved as interrupted (with Retry), as under an ASGI server that
   sends it.
"""

from __future__ import annotations

import argparse
import asyncio
import ctypes
import logging
import os
import signal
import socket
import sys
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from asgiref.compatibility import guarantee_single_callable
from daphne.cli import CommandLineInterface
from daphne.utils import import_by_path
from twisted.internet import defer

from tutor_project.serve.drain import TURNS_SECONDS, drain, open_chat_sockets
from tutor_project.serve.sockets import LISTEN_BACKLOG
from tutor_project.serve.supervisor import READY_BYTE, REPLACED_SIGNAL

ASGI_APPLICATION = "tutor_project.asgi:application"
# What a replaced worker waits on before it stops; loaded by path, like the application,
# once Django is set up (the application's import does that, before the reactor runs).
TURNS_FINISHED = "lessons_app.tutor.runtime:turns_finished"
# prctl(2): have the kernel signal this process when its parent exits.
PR_SET_PDEATHSIG = 1
LIFESPAN_SHUTDOWN_FAILED = "lifespan.shutdown.failed"
# Daphne drops a WebSocket handshake its application has not answered in this long (its
# default is 5 s). The chat answers at once, so only an overloaded process is that late,
# as after a restart when every page reconnects together: dropping the handshake then
# only sends the page back to queue again. Given unless the command line sets its own.
WEBSOCKET_CONNECT_TIMEOUT_OPTION = "--websocket_connect_timeout"
WEBSOCKET_CONNECT_TIMEOUT_SECONDS = 30

ASGIApplication = Callable[..., Awaitable[None]]
logger = logging.getLogger("tutor.serve.worker")


def parse_worker_args(argv: Sequence[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m tutor_project.serve.worker")
    parser.add_argument("--listen-fd", type=int, required=True)
    parser.add_argument("--ready-fd", type=int, required=True)
    parser.add_argument("--supervisor", type=int, required=True, help="the supervisor's pid")
    parser.add_argument("daphne_args", nargs=argparse.REMAINDER)
    args = parser.parse_args(argv)
    if args.daphne_args[:1] == ["--"]:
        args.daphne_args = args.daphne_args[1:]
    return args


def daphne_argv(fd: int, options: Sequence[str]) -> list[str]:
    """Daphne's command line for the (IPv4) socket ``fd``."""
    if not any(option.startswith(WEBSOCKET_CONNECT_TIMEOUT_OPTION) for option in options):
        options = [
            WEBSOCKET_CONNECT_TIMEOUT_OPTION,
            str(WEBSOCKET_CONNECT_TIMEOUT_SECONDS),
            *options,
        ]
    return ["--fd", str(fd), *options, ASGI_APPLICATION]


def signal_me_when_my_parent_dies() -> None:
    """Linux only; elsewhere a worker outlives a supervisor killed by SIGKILL."""
    if sys.platform.startswith("linux"):
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM)


def follow_supervisor(supervisor_pid: int) -> None:
    """Be sent SIGTERM when the supervisor dies; exit now if it already has."""
    signal_me_when_my_parent_dies()
    if os.getppid() != supervisor_pid:  # it died before the line above took effect
        raise SystemExit("serve worker: the supervisor has gone; not starting.")


def listen(fd: int) -> None:
    """Start listening on the inherited socket ``fd`` (left open for Daphne)."""
    sock = socket.socket(fileno=fd)
    try:
        sock.listen(LISTEN_BACKLOG)
    finally:
        sock.detach()


def say_ready(ready_fd: int) -> None:
    """Tell the supervisor that this worker serves."""
    os.write(ready_fd, READY_BYTE)
    os.close(ready_fd)


async def send_lifespan_shutdown(application: ASGIApplication) -> None:
    """Send ``application`` the ASGI ``lifespan.shutdown`` that Daphne never sends.

    The project's application closes its turn runtime on it: turns in flight end as
    interrupted and are saved, instead of waiting for another process's sweep.
    """
    messages = [{"type": "lifespan.shutdown"}]

    async def receive() -> dict[str, Any]:
        if messages:
            return messages.pop()
        await asyncio.Event().wait()  # nothing more is coming; the application returns
        raise AssertionError  # unreachable

    async def send(message: dict[str, Any]) -> None:
        if message["type"] == LIFESPAN_SHUTDOWN_FAILED:
            logger.error("The application failed to shut down: %s", message.get("message"))

    await application({"type": "lifespan", "asgi": {"version": "3.0"}}, receive, send)


def stop_listening() -> None:
    """Close this worker's listening socket, so that the kernel hands new connections to
    the port's other workers while this one shuts down: the pages it served reconnect
    there instead of into a queue that is reset when it exits."""
    # Imported here, after daphne.cli has installed the asyncio reactor Daphne needs.
    from twisted.internet import reactor, tcp

    for reader in reactor.getReaders():
        if isinstance(reader, tcp.Port):
            reader.stopListening()


def drain_then_stop() -> None:
    """Replaced by new workers: stop listening, close the chat sockets at the drain's pace,
    let the turns in flight finish (``TURNS_SECONDS`` at most), then stop as on SIGTERM.

    The sockets are closed before Twisted is told to stop, not in a shutdown trigger:
    Daphne's own trigger cancels every application instance at once, which drops their
    sockets before a paced close could reach them.
    """
    # Imported here, after daphne.cli has installed the asyncio reactor Daphne needs (and
    # the application has configured Django: the reactor runs this only once it serves).
    from django.conf import settings
    from twisted.internet import reactor

    async def let_turns_finish(seconds: float) -> None:
        try:
            await asyncio.wait_for(import_by_path(TURNS_FINISHED)(), seconds)
        except TimeoutError:
            logger.warning("replaced: turns still running after %g s; stopping", TURNS_SECONDS)

    signalled = reactor.seconds()
    try:
        stop_listening()
        sockets = open_chat_sockets(reactor.getReaders())
        per_second = settings.TUTOR_DRAIN_SOCKETS_PER_SECOND
        logger.info("replaced: closing %d chat sockets, %g a second", len(sockets), per_second)
        drained = drain(sockets, per_second=per_second, scheduler=reactor)
    except Exception:
        logger.exception("Closing the chat sockets failed; stopping at once")
        drained = defer.succeed(None)
    drained.addCallback(
        lambda _: defer.Deferred.fromFuture(
            asyncio.ensure_future(let_turns_finish(TURNS_SECONDS - (reactor.seconds() - signalled)))
        )
    )
    drained.addErrback(lambda failure: logger.error("Replaced, then failed: %s", failure.value))
    drained.addBoth(lambda _: reactor.stop())


def drain_then_stop_when_replaced() -> None:
    """On ``REPLACED_SIGNAL``, :func:`drain_then_stop` (whose default would kill the worker)."""
    from twisted.internet import reactor

    def on_replaced(signum: int, frame: Any) -> None:
        reactor.callFromThread(drain_then_stop)  # as Twisted's own SIGTERM handler does

    signal.signal(REPLACED_SIGNAL, on_replaced)


def shut_down_application_first(application: ASGIApplication) -> None:
    """When Twisted is told to stop, stop listening, then shut ``application`` down
    before Daphne stops it."""
    # Imported here, after daphne.cli has installed the asyncio reactor Daphne needs.
    from twisted.internet import reactor

    def shut_down() -> defer.Deferred:
        stop_listening()
        future = asyncio.ensure_future(send_lifespan_shutdown(application))
        return defer.Deferred.fromFuture(future)

    reactor.addSystemEventTrigger("before", "shutdown", shut_down)


def say_ready_when_serving(ready_fd: int) -> None:
    """Once Twisted runs, which Daphne lets it do only if it listens on the socket."""
    # Imported here, after daphne.cli has installed the asyncio reactor Daphne needs.
    from twisted.internet import reactor

    reactor.callWhenRunning(say_ready, ready_fd)


def main(argv: Sequence[str] | None = None) -> None:
    args = parse_worker_args(sys.argv[1:] if argv is None else argv)
    follow_supervisor(args.supervisor)
    drain_then_stop_when_replaced()  # from the start: the signal must never kill it
    # The seconds of imports, before any connection comes.
    application = guarantee_single_callable(import_by_path(ASGI_APPLICATION))
    shut_down_application_first(application)
    say_ready_when_serving(args.ready_fd)
    listen(args.listen_fd)
    CommandLineInterface().run(daphne_argv(args.listen_fd, args.daphne_args))


if __name__ == "__main__":
    main()
