"""A rolling restart, as a deploy does it: ``python -m tutor_project.serve --workers 2``
on one port (PostgreSQL + Redis), the idle sockets open on it, then SIGHUP.

The supervisor starts a new worker beside each old one and, once all of them listen,
tells the old ones they are replaced: each closes its sockets ``TUTOR_DRAIN_SOCKETS_PER_SECOND``
at a time with 1012, and each page reconnects at once, as chat.js does, onto workers that
have finished starting (tutor_project/serve/drain.py). Measured: the seconds from SIGHUP
to the old workers closing their first sockets (the new ones starting), from then to the
last socket back (its ``history`` in: about the drain's length), and how long each
learner's chat was away (close to history).

Then the same server is restarted cold (SIGTERM, then started again on its port): the
seconds to stop it, and from its start to the last and the median socket back. While no
worker of a starting ``serve`` is ready, the port queues connections instead of refusing
them (tutor_project/serve/supervisor.py), so the pages do not back off meanwhile.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from bench.load.config import Plan
from bench.load.idle_phase import seconds_back
from bench.load.pipe import Child
from bench.load.progress import log
from bench.load.servers import Supervised

WORKERS = 2
# The new workers may take this long to start before the measure is given up.
REPLACE_SECONDS = 60.0


def rolling_restart(
    client: Child, env: dict[str, str], cookies: list[str], plan: Plan, logs: Path
) -> dict[str, Any]:
    served = Supervised(env, WORKERS, logs / "serve-rolling.log")
    served.start()
    try:
        served.wait_until_healthy()
        opened = client.call(
            "idle_open",
            targets=[served.url],
            cookies=cookies[: plan.idle_sockets],
            timeout=plan.idle_open_seconds,
        )
        try:
            rolling = _replace(client, served, plan, opened["opened"])
            earlier = sum(rolling["failures"].values())  # the client counts from the start
            rolling["cold"] = _cold_restart(client, served, plan, opened["opened"], earlier)
            return rolling
        finally:
            client.call("idle_close")
    finally:
        served.stop()


def _back_since(client: Child, since: float, plan: Plan) -> dict[str, Any]:
    """The load client's answer once every socket closed since ``since`` is back."""
    return client.call(
        "idle_reconnected", since=since, timeout=REPLACE_SECONDS + plan.idle_reconnect_seconds
    )


def _replace(client: Child, served: Supervised, plan: Plan, sockets: int) -> dict[str, Any]:
    signalled = time.monotonic()
    served.replace_workers()
    back = _back_since(client, signalled, plan)
    result: dict[str, Any] = {
        "workers": WORKERS,
        "sockets": sockets,
        "reconnected": back["reconnected"],
        "failures": back["failures"],
        "outage_max_seconds": back["outage_max_seconds"],
        "outage_median_seconds": back["outage_median_seconds"],
    }
    if back["first_closed_at"] is not None:
        result["start_seconds"] = back["first_closed_at"] - signalled
        result["last_back_seconds"] = back["last_history_at"] - back["first_closed_at"]
        result["median_back_seconds"] = back["median_history_at"] - back["first_closed_at"]
    log(
        f"rolling restart: {back['reconnected']}/{sockets} sockets back, "
        f"last {result.get('last_back_seconds', float('nan')):.1f} s after the old workers closed"
    )
    return result


def _cold_restart(
    client: Child, served: Supervised, plan: Plan, sockets: int, earlier_failures: int
) -> dict[str, Any]:
    stopping = time.monotonic()
    served.stop()
    started = time.monotonic()
    served.start()
    back = _back_since(client, stopping, plan)
    result: dict[str, Any] = {
        "sockets": sockets,
        "reconnected": back["reconnected"],
        # Refused or failed handshakes while it stopped and started.
        "failed_attempts": sum(back["failures"].values()) - earlier_failures,
        "stop_seconds": started - stopping,
    }
    result.update(seconds_back(back, started))
    log(
        f"cold restart: {back['reconnected']}/{sockets} sockets back, "
        f"last {result['last_back_seconds'] or float('nan'):.1f} s after the start"
    )
    served.wait_until_healthy()
    return result
