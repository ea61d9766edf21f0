"""Idle sockets on one worker, seen from the orchestrator: memory, then a restart.

The load client opens one socket per learner (bench/load/idle.py) and holds them; the
worker's resident memory before and after, over the sockets opened, is the memory per
socket. Then the worker is stopped and started again on its port while the sockets
reconnect as chat.js does: how many are back (their ``history`` frame in), and the
seconds from the restart (the new process started) and from the new process listening
to the last one back. The clients' backoff is part of that time, as it is for learners:
the longer the server is down, the longer their pages wait before they try again.

Counted from when the new process listens, not from its /healthz answering: a health
request waits behind the reconnect storm's, so under load it came late or never, and
the time to the last socket shrank or could not be measured.
"""

from __future__ import annotations

import threading
import time
from typing import Any

from bench.load.config import Plan
from bench.load.pipe import Child
from bench.load.progress import log
from bench.load.servers import Workers

# After the last socket opened: for the memory to settle before it is read.
SETTLE_SECONDS = 2.0
# The restarted worker may take this long to listen, and after the sockets to answer
# /healthz (the next phase needs it healthy).
RESTART_START_SECONDS = 60.0
# How long the load client's answer may be followed by the wait for the port.
LISTEN_JOIN_SECONDS = RESTART_START_SECONDS + 5


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
        result.update(_restart(client, workers, plan, opened["opened"]))
    finally:
        client.call("idle_close")
    return result


def seconds_back(back: dict[str, Any], since: float, suffix: str = "") -> dict[str, float | None]:
    """From ``since`` to the last and the median socket back, in the load client's answer
    ``back`` (``None`` where none came back): ``last_back<suffix>_seconds`` and the median's."""
    seconds: dict[str, float | None] = {}
    for key in ("last", "median"):
        at = back[f"{key}_history_at"]
        seconds[f"{key}_back{suffix}_seconds"] = None if at is None else at - since
    return seconds


def _restart(client: Child, workers: Workers, plan: Plan, sockets: int) -> dict[str, Any]:
    stopping = time.monotonic()
    workers.stop()
    launched = time.monotonic()
    workers.launch()
    listening: dict[str, Any] = {}

    def watch() -> None:
        try:
            listening["at"] = workers.wait_until_listening(RESTART_START_SECONDS)
        except RuntimeError as error:
            listening["error"] = str(error)

    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    back = client.call("idle_reconnected", since=stopping, timeout=plan.idle_reconnect_seconds)
    watcher.join(LISTEN_JOIN_SECONDS)
    result: dict[str, Any] = {
        "stop_seconds": launched - stopping,
        "reconnected": back["reconnected"],
        "never_closed": back["never_closed"],
        "handshake_max_seconds": back["handshake_max_seconds"],
        "handshake_median_seconds": back["handshake_median_seconds"],
        "tries_max": back["tries_max"],
        "failures": back["failures"],
    }
    if "at" not in listening:
        error = listening.get("error", "still starting")
        log(f"restart: {error}")
        return {**result, "restart_error": error}
    result["start_seconds"] = listening["at"] - launched
    result.update(seconds_back(back, launched))
    result.update(seconds_back(back, listening["at"], "_after_listening"))
    last = _seconds(result["last_back_seconds"])
    log(f"{back['reconnected']}/{sockets} sockets back; last {last} after the restart")
    try:
        workers.wait_until_healthy(RESTART_START_SECONDS)
    except RuntimeError as error:
        result["restart_error"] = f"not healthy after the reconnects: {error}"
    return result


def _seconds(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f} s"
