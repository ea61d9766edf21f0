"""Idle sockets on one worker, seen from the orchestrator: memory, then a restart.

The load client opens one socket per learner (bench/load/idle.py) and holds them; the
worker's resident memory before and after, over the sockets opened, is the memory per
socket. Then the worker is stopped and started again on its port while the sockets
reconnect as chat.js does: the seconds from the new process answering /healthz to the
last socket's ``history`` frame.
"""

from __future__ import annotations

import time
from typing import Any

from bench.load.config import Plan
from bench.load.pipe import Child
from bench.load.progress import log
from bench.load.servers import Workers

# After the last socket opened: for the memory to settle before it is read.
SETTLE_SECONDS = 2.0


def idle_sockets(client: Child, cookies: list[str], workers: Workers, plan: Plan) -> dict[str, Any]:
    count = plan.idle_sockets
    before = workers.rss_kib()
    opened = client.call(
        "idle_open", targets=workers.urls, cookies=cookies[:count], timeout=plan.idle_open_seconds
    )
    time.sleep(SETTLE_SECONDS)
    grown = workers.rss_kib() - before
    log(f"{opened['opened']} idle sockets in {opened['seconds']:.1f}s, +{grown} KiB")
    stopping = time.monotonic()
    workers.stop()
    starting = time.monotonic()
    healthy_at = workers.start()
    try:
        back = client.call("idle_reconnected", timeout=plan.idle_reconnect_seconds)
    finally:
        client.call("idle_close")
    log(f"{back['reconnected']} sockets back after the restart")
    result = {
        "sockets": opened["opened"],
        "open_seconds": opened["seconds"],
        "kib_per_socket": grown / opened["opened"] if opened["opened"] else None,
        "stop_seconds": starting - stopping,
        "start_seconds": healthy_at - starting,
        "reconnected": back["reconnected"],
        "handshake_max_seconds": back["handshake_max_seconds"],
        "handshake_median_seconds": back["handshake_median_seconds"],
    }
    for key in ("last", "median"):
        at = back[f"{key}_history_at"]
        result[f"{key}_history_seconds"] = None if at is None else at - healthy_at
    return result
