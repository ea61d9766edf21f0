"""How Daphne treats a client that breaks the WebSocket rules, such as an oversized frame.

Daphne refuses a message over its limit (``--websocket_max_message_size``, 1 MiB by
default) in Autobahn, which by default "fails by drop": it aborts the TCP connection
without a close frame, so the browser sees 1006 (abnormal closure) and cannot tell why.
With ``failByDrop`` off, Autobahn sends a close frame first: 1009 (message too big) for
an oversized message, as docs/protocol.md says. Daphne offers no option for it, so the
factory it builds its sockets with is given one, for every way the app is served
(``daphne``, ``manage.py runserver``, ``python -m tutor_project.serve``): each imports
this project's ASGI application, which calls :func:`close_instead_of_dropping`, before
it starts its server.
"""

from __future__ import annotations

import sys
from typing import Any


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
