"""The objects a server process made while starting, kept out of the garbage collector's way.

Loading the project (Django, the apps, LiteLLM, Twisted) leaves some 450,000 objects the
cyclic garbage collector tracks, and it walks them all in every full collection. Every
object a busy server keeps alive counts towards the next one (CPython collects fully once
a quarter as many objects again have survived), so when every learner's socket reconnects
at once after a restart, each keeping a few hundred objects, the worker kept stopping for
those walks: in ``bench.load.storm 1000 3`` (3,000 socket opens) it spent 1.8 s of its
CPU collecting, 1.5 s of that in six full collections. Frozen (``gc.freeze``), the
start-up objects are left out of every collection (0.9 s, 0.4 s in full ones); they were
never going to be freed (modules, classes, settings), and the garbage among them is
collected once first.
"""

from __future__ import annotations

import gc
import sys


def freeze_startup_objects() -> None:
    """Collect, then freeze every object tracked so far."""
    gc.collect()
    gc.freeze()


def freeze_when_serving() -> bool:
    """Freeze the start-up objects once Daphne's server runs (its reactor starts).

    Whether it will: only in a process that has imported Daphne's server, and even then
    only once that server runs; a test run, which imports the server and the ASGI
    application but never starts the reactor, keeps its objects as they are.
    """
    if "daphne.server" not in sys.modules:
        return False
    from twisted.internet import reactor  # Daphne's, installed when it was imported

    reactor.callWhenRunning(freeze_startup_objects)
    return True
