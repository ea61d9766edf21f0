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

import functools
import sys
from collections.abc import Callable
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


def _debug_logged() -> bool:
    import txaio

    try:
        return txaio.get_global_log_level() in DEBUG_LEVELS
    except RuntimeError:  # no framework chosen yet: nothing has logged
        return False


def _only_when_logged(format_for_debug: Callable[..., str], plain: Callable[[Any], str]):
    """``format_for_debug`` when Autobahn writes debug lines, else the cheaper ``plain``."""

    @functools.wraps(format_for_debug)
    def formatted(value: Any, *args: Any, **kwargs: Any) -> str:
        if _debug_logged():
            return format_for_debug(value, *args, **kwargs)
        return plain(value)

    formatted.only_when_logged = True
    return formatted


def format_debug_lines_only_when_logged() -> None:
    """Stop Autobahn formatting, for every socket and every frame, lines nobody logs.

    Its debug lines' arguments are built whatever the log level: ``pformat()`` of some
    thirty options for every new socket in ``WebSocketProtocol._connectionMade`` (0.1 ms
    a socket, when after a restart every learner's socket connects at once), and, for
    every frame sent, ``sendData``'s ``hltype()`` (an ``inspect`` of the method) and
    two ``hlval()`` (each a ``click.style``). The three names of the protocol module
    are made to format only when Autobahn logs debug lines, and otherwise to give plain
    text (``repr``, ``str``): text all the same, as their other uses are debug lines
    too, and ``Timings.__str__``, used only with ``trackTimings``. Idempotent; only in
    a process that runs Daphne's server (it has imported Autobahn).
    """
    protocol = sys.modules.get("autobahn.websocket.protocol")
    if protocol is None or getattr(protocol.pformat, "only_when_logged", False):
        return
    protocol.pformat = _only_when_logged(protocol.pformat, repr)
    protocol.hltype = _only_when_logged(protocol.hltype, _qualified_name)
    protocol.hlval = _only_when_logged(protocol.hlval, str)


def _qualified_name(value: Any) -> str:
    return getattr(value, "__qualname__", type(value).__qualname__)
