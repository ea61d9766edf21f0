"""Queries per turn, counted inside the app: `python -m bench.load.queries COOKIE FAKE_ROOT`.

Runs one learner's turns through channels' WebsocketCommunicator on the project's ASGI
app (in the served app's environment: its database, its turn engine), against the
benchmark's fake provider. Every database connection, in every thread, gets an execute
wrapper as it is created (Django's ``connection_created``), which notes each query's
time; the fake says when the model request arrived (``/_bench/received``), which splits
a turn's queries into those before the model call and the rest. *Trips* are the calls
handed to the chat's database threads (lessons_app.tutor.database), each a wait for a
thread and a connection, however many queries it makes. Prints one JSON line.
"""

from __future__ import annotations

import asyncio
import json
import os
import statistics
import sys
import threading
import time
import urllib.request
import uuid
from typing import Any

import django

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tutor_project.settings")
django.setup()

from channels.testing import WebsocketCommunicator  # noqa: E402
from django.db.backends.signals import connection_created  # noqa: E402

from bench.load.config import DEMO_SLUG, ORIGIN_HOST, RECEIVE_TIMEOUT_SECONDS, TURN_SECONDS  # noqa: E402
from bench.load.fake_provider import RECEIVED_PATH  # noqa: E402
from lessons_app.tutor import database  # noqa: E402
from lessons_app.tutor.runtime import shutdown_runtime  # noqa: E402
from tutor_project.asgi import application  # noqa: E402

WARM_UP_TURNS = 1
MEASURED_TURNS = 4
# After `done`: anything the turn still writes (the reply row is saved before `done`).
SETTLE_SECONDS = 0.3


class Recorder:
    """Every query's and every new connection's ``time.monotonic()``, from any thread."""

    def __init__(self) -> None:
        self.queries: list[float] = []
        self.connections: list[float] = []
        self.trips: list[float] = []
        self._lock = threading.Lock()

    def count_trips(self, submit):
        """``submit`` of the chat's database threads, noting when each call was handed over."""

        def counted(*args, **kwargs):
            with self._lock:
                self.trips.append(time.monotonic())
            return submit(*args, **kwargs)

        return counted

    def wrap(self, execute, sql, params, many, context):
        with self._lock:
            self.queries.append(time.monotonic())
        return execute(sql, params, many, context)

    def connection_created(self, sender, connection, **kwargs) -> None:
        with self._lock:
            self.connections.append(time.monotonic())
        # A wrapper object is reconnected many times (CONN_MAX_AGE 0): wrap it once.
        if self.wrap not in connection.execute_wrappers:
            connection.execute_wrappers.append(self.wrap)

    def since(self, start: float, end: float) -> tuple[list[float], int]:
        with self._lock:
            queries = [t for t in self.queries if start <= t < end]
            return queries, sum(start <= t < end for t in self.connections)

    def trips_since(self, start: float, end: float) -> list[float]:
        with self._lock:
            return [t for t in self.trips if start <= t < end]


def _model_request_at(fake_root: str, marker: str) -> float | None:
    with urllib.request.urlopen(f"{fake_root}{RECEIVED_PATH}", timeout=10) as response:  # noqa: S310 - loopback
        calls = json.load(response)
    return next((c["received_at"] for c in calls if marker in c["last_user"]), None)


async def _receive_until(communicator: WebsocketCommunicator, *types: str) -> dict[str, Any]:
    while True:
        frame = json.loads(await communicator.receive_from(timeout=RECEIVE_TIMEOUT_SECONDS))
        if frame["type"] in types:
            return frame


async def _turn(communicator, recorder: Recorder, fake_root: str) -> dict[str, Any]:
    marker = f"queries-{uuid.uuid4().hex}"
    start = time.monotonic()
    await communicator.send_to(text_data=json.dumps({"type": "message", "content": marker}))
    end_frame = await _receive_until(communicator, "done", "error")
    await asyncio.sleep(SETTLE_SECONDS)
    queries, connections = recorder.since(start, time.monotonic())
    trips = recorder.trips_since(start, time.monotonic())
    model_at = _model_request_at(fake_root, marker)
    return {
        "ended": end_frame["type"],
        "queries": len(queries),
        "before_model": sum(t < model_at for t in queries) if model_at else None,
        "trips": len(trips),
        "trips_before_model": sum(t < model_at for t in trips) if model_at else None,
        "connections": connections,
    }


async def measure(cookie: str, fake_root: str) -> dict[str, Any]:
    recorder = Recorder()
    connection_created.connect(recorder.connection_created, weak=False)
    database._pool.submit = recorder.count_trips(database._pool.submit)
    headers = [
        (b"origin", f"http://{ORIGIN_HOST}".encode()),
        (b"host", ORIGIN_HOST.encode()),
        (b"cookie", cookie.encode()),
    ]
    communicator = WebsocketCommunicator(application, f"/ws/lessons/{DEMO_SLUG}/chat/", headers)
    opened = time.monotonic()
    connected, _ = await communicator.connect(timeout=RECEIVE_TIMEOUT_SECONDS)
    if not connected:
        raise RuntimeError("the chat socket was refused")
    await _receive_until(communicator, "history")
    open_queries, open_connections = recorder.since(opened, time.monotonic())
    turns = [await _turn(communicator, recorder, fake_root) for _ in range(WARM_UP_TURNS)]
    turns = [await _turn(communicator, recorder, fake_root) for _ in range(MEASURED_TURNS)]
    idle_from = time.monotonic()
    await asyncio.sleep(TURN_SECONDS)
    idle_queries, _ = recorder.since(idle_from, time.monotonic())
    await communicator.disconnect()
    await shutdown_runtime()
    return {
        "open_queries": len(open_queries),
        "open_connections": open_connections,
        "idle_queries": len(idle_queries),
        "turns": turns,
        **{
            key: statistics.median(turn[key] for turn in turns if turn[key] is not None)
            for key in ("queries", "before_model", "trips", "trips_before_model", "connections")
        },
    }


if __name__ == "__main__":
    result = asyncio.run(measure(sys.argv[1], sys.argv[2]))
    sys.stdout.write(json.dumps(result) + "\n")
