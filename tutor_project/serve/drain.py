"""A replaced worker's chat sockets, closed at a pace the new workers can take.

When a deploy replaces the workers (SIGHUP to ``python -m tutor_project.serve``), each
old worker's pages must reconnect to the new ones. Closed all at once, a thousand
pages a worker reconnect in the same moment, and the new workers, which let in a few
hundred a second each, make the last of them wait many seconds: every learner's chat
was away for as long as the queue took. Closed ``TUTOR_DRAIN_SOCKETS_PER_SECOND`` at a
time (in small batches), each page is let in as soon as it comes, so each learner's
chat is away for the moment its reconnect takes.

Each is closed with ``1012`` (*service restart*), on which the browser reconnects at
once rather than after its backoff. Turns in flight go on, meanwhile and afterwards, for
up to ``TURNS_SECONDS`` from the signal: their pages follow them from the new workers
through Redis (a deploy replaces workers only where Redis shares the turns), and a turn
that ends in that time is not interrupted. A worker stopped for good (SIGTERM) closes
everything at once, as there is nowhere to reconnect to.
"""

from __future__ import annotations

import logging
import math
from collections import deque
from collections.abc import Iterable
from typing import Any, Protocol

from twisted.internet import defer

from tutor_project.serve.supervisor import STOP_SECONDS

logger = logging.getLogger(__name__)

# RFC 6455's registry (IANA): "the service is restarted; a client may reconnect".
SERVICE_RESTART = 1012
# The pace is kept in batches this far apart.
BATCH_SECONDS = 0.05
# However many sockets there are, the drain takes at most this long: the supervisor
# kills a replaced worker that has not stopped in 20 s, and the turns still running
# must be saved in that time too.
LONGEST_SECONDS = 10.0
# After the last close is sent, how long the pages get to answer it: the worker's
# shutdown drops whatever is still open, close frame unsent or not.
ANSWER_SECONDS = 2.0
# What a replaced worker keeps of the supervisor's STOP_SECONDS for its lifespan shutdown,
# which saves the turns still running as interrupted.
SHUTDOWN_SECONDS = 5.0
# From the signal, how long a replaced worker lets its turns in flight go on (their pages
# follow them from the new workers) before it stops: 15 s, the supervisor killing it at 20.
TURNS_SECONDS = STOP_SECONDS - SHUTDOWN_SECONDS


class Scheduler(Protocol):
    """What the drain needs of the reactor (Twisted's ``task.Clock`` has it, for tests)."""

    def callLater(self, delay: float, callable: Any, *args: Any) -> Any: ...


def open_chat_sockets(readers: Iterable[Any]) -> list[Any]:
    """The open WebSockets among the reactor's readers (Daphne's protocol on a transport)."""
    from daphne.ws_protocol import WebSocketProtocol

    sockets = []
    for reader in readers:
        protocol = getattr(reader, "protocol", None)
        if isinstance(protocol, WebSocketProtocol) and protocol.state == protocol.STATE_OPEN:
            sockets.append(protocol)
    return sockets


def per_batch(sockets: int, per_second: float) -> int:
    """How many to close every ``BATCH_SECONDS``: the pace asked for, or faster to end in
    ``LONGEST_SECONDS``; all at once for a pace of 0."""
    if per_second <= 0:
        return max(sockets, 1)
    fastest_needed = sockets / LONGEST_SECONDS
    return max(1, math.ceil(max(per_second, fastest_needed) * BATCH_SECONDS))


def _close(socket: Any) -> None:
    try:
        # Autobahn's sendClose takes only 1000 and 3000-4999, the codes an application
        # may choose; 1012 is the server's own, as is the 1011 Daphne sends this way.
        socket.sendCloseFrame(code=SERVICE_RESTART)
    except Exception:
        # One socket must not keep the worker from stopping (it would be killed, its
        # turns left to the sweep); Daphne drops this one when it stops.
        logger.exception("Closing a chat socket failed")


def drain(sockets: Iterable[Any], *, per_second: float, scheduler: Scheduler) -> defer.Deferred:
    """Close ``sockets`` with ``1012``, ``per_second`` of them a second (those that closed
    meanwhile are left alone); fires once every one has closed, or ``ANSWER_SECONDS``
    after the last close was sent."""
    sockets = list(sockets)
    waiting = deque(sockets)
    batch = per_batch(len(waiting), per_second)
    checks_left = math.ceil(ANSWER_SECONDS / BATCH_SECONDS)
    closed = defer.Deferred()

    def close_next_batch() -> None:
        for _ in range(min(batch, len(waiting))):
            socket = waiting.popleft()
            if socket.state == socket.STATE_OPEN:
                _close(socket)
        if waiting:
            scheduler.callLater(BATCH_SECONDS, close_next_batch)
        else:
            wait_for_answers()

    def wait_for_answers() -> None:
        nonlocal checks_left
        if checks_left == 0 or all(s.state == s.STATE_CLOSED for s in sockets):
            closed.callback(None)
        else:
            checks_left -= 1
            scheduler.callLater(BATCH_SECONDS, wait_for_answers)

    close_next_batch()
    return closed
