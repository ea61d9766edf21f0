"""Which turns in flight have lost their runner: the decision, apart from the I/O.

A reply row stays ``streaming`` only while a runner works on it. The runner that
started it beats (its heartbeat in the engine, ``heartbeat_at`` on its rows,
refreshed with every checkpoint); a row whose runner stopped beating is dead and
is finished as ``interrupted`` by whichever process sweeps first. Every process
sweeps every ``TUTOR_SWEEP_SECONDS`` and once when it starts.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from lessons_app.tutor.turns import StreamingRow


@dataclass(frozen=True)
class Liveness:
    """What the sweeping process knows, at ``now``, about who is alive."""

    runner_id: str
    # The turns this process's runner is running.
    running: Collection[int]
    # The other runners the engine says have beaten recently.
    alive_runners: Collection[str]
    single_process: bool
    now: datetime
    stale_after: timedelta

    def is_stale(self, row: StreamingRow) -> bool:
        return row.heartbeat_at is None or row.heartbeat_at < self.now - self.stale_after

    def is_dead(self, row: StreamingRow) -> bool:
        """Whether ``row``'s turn can no longer finish on its own.

        - This process's row: dead if no task runs it any more and its heartbeat is
          stale (a fresh one may belong to a turn being set up right now).
        - Another process's row on a one-process engine: that process is gone (the
          engine refuses to run two), so the row is dead at once, at start-up too.
        - Another process's row otherwise: dead when both its runner's heartbeat and
          the row's are stale. Either alone is not enough: Redis restarting loses the
          first, a database outage holds up the second.
        """
        if row.runner_id == self.runner_id:
            return row.pk not in self.running and self.is_stale(row)
        if self.single_process:
            return True
        return row.runner_id not in self.alive_runners and self.is_stale(row)

    def dead(self, rows: Iterable[StreamingRow]) -> list[StreamingRow]:
        return [row for row in rows if self.is_dead(row)]


def recovered_text(checkpointed: str, logged: str) -> str:
    """The most of the reply that survived: the log may hold up to a second more text."""
    if len(logged) > len(checkpointed) and logged.startswith(checkpointed):
        return logged
    return checkpointed
