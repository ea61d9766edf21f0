"""How Daphne treats a client that breaks the WebSocket rules, such as an oversized frame,
and what Autobahn, under it, does for every socket that it need not.

Daphne refuses a message over its limit (``--websocket_max_message_size``, 1 MiB by
default) in Autobahn, which by default "fails by drop": it aborts the TCP connection
without a close frame, so the browser sees 1006 (abnormal closure) and cannot tell why.
With ``failByDrop`` off, Autobahn sends a close frame first: 1009 (message too big) for
an oversized message, as docs/protocol.md says. Daphne offers no option for it, so the
factory it builds its sockets with is given one, for every way the app is served
(``daphne``, ``manage.py runserver``, ``python -m tutor_project.serve``): each imports
this project's ASGI application, which calls :func:`close_instead_of_dropping` (and
:func:`format_debug_lines_only_when_logged`) before it starts its server.
"""

from __future__ import annotations

import sys
from pprint import pformat
from typing import Any

# Autobahn's log levels (txaio's) at which it writes its debug lines.
DEBUG_LEVELS = ("debug", "trace")


def close_instead_of_dropping() -> None:
    """Make Daphne's socket factory close with a code instead of dropping; idempotent.

    Only in a process that runs Daphne's server (it has imported ``daphne.server``);
    importing it anywhere else would install Twisted's reactor for nothing.
    """
    daphne_server = sys.modules.get("daphne.server")
    if daphne_server is None or getattr(daphne_server.WebSocketFactory, "closes_cleanly", False):
        return

    class CleanlyClosingFactory(daphne_server.WebSocketFactory):
        closes_cleanly = True

        def setProtocolOptions(self, **options: Any) -> None:
            super().setProtocolOptions(**options, failByDrop=False)

    daphne_server.WebSocketFactory = CleanlyClosingFactory


def _pformat_if_logged(value: Any, *args: Any, **kwargs: Any) -> str:
    import txaio

    try:
        logged = txaio.get_global_log_level() in DEBUG_LEVELS
    except RuntimeError:  # no framework chosen yet: nothing has logged
        logged = False
    return pformat(value, *args, **kwargs) if logged else repr(value)


def format_debug_lines_only_when_logged() -> None:
    """Stop Autobahn pretty-printing every new socket's options for a line nobody logs.

    Its ``WebSocketProtocol._connectionMade`` passes ``pformat()`` of some thirty options
    to ``log.debug`` on every connection, whatever the log level: 0.1 ms of the
    interpreter a socket, when after a restart every learner's socket connects at once.
    The ``pformat`` of its module is made to pretty-print only when Autobahn logs debug
    lines, and otherwise to give ``repr``: text all the same (its other uses are debug
    lines too, and ``Timings.__str__``, used only with ``trackTimings``). Idempotent;
    only in a process that runs Daphne's server (it has imported Autobahn).
    """
    protocol = sys.modules.get("autobahn.websocket.protocol")
    if protocol is not None:
        protocol.pformat = _pformat_if_logged
