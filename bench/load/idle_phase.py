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
# The restarted worker may take this long to answer /healthz (it starts in seconds).
RESTART_HEALTH_SECONDS = 30.0


def idle_sockets(client: Child, cookies: list[str], workers: Workers, plan: Plan) -> dict[str, Any]:
    """Memory per idle socket, then the restart; what could not be measured is left out."""
    before = workers.rss_kib()
    opened = client.call(
        "idle_open",
        targets=workers.urls,
        cookies=cookies[: plan.idle_sockets],
        timeout=plan.idle_open_seconds,
    )
    time.sleep(SETTLE_SECONDS)
    grown = workers.rss_kib() - before
    log(f"{opened['opened']} idle sockets in {opened['seconds']:.1f}s, +{grown} KiB")
    result = {
        "sockets": opened["opened"],
        "open_seconds": opened["seconds"],
        "kib_per_socket": grown / opened["opened"] if opened["opened"] else None,
    }
    try:
        result.update(_restart(client, workers, plan))
    finally:
        client.call("idle_close")
    return result


def _restart(client: Child, workers: Workers, plan: Plan) -> dict[str, Any]:
    stopping = time.monotonic()
    workers.stop()
    starting = time.monotonic()
    try:
        healthy_at = workers.start(RESTART_HEALTH_SECONDS)
    except RuntimeError as error:
        log(f"restart: {error}")
        return {"stop_seconds": starting - stopping, "restart_error": str(error)}
    back = client.call("idle_reconnected", timeout=plan.idle_reconnect_seconds)
    log(f"{back['reconnected']} sockets back after the restart")
    result = {
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
