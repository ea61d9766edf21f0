"""What every process of the load benchmark agrees on: the reply, the lesson, the phases.

Each module here runs in its own process (the fake provider, the load client, the direct
LiteLLM client, the set-up and the query counter), so the numbers they share live here.
``BENCH_QUICK=1`` shrinks the run for development: c = 1, 10 and 200 idle sockets.
"""

from __future__ import annotations

import os
import re
import resource
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

# The fake provider's reply: 300 ms to the first token, then 100 chunks 20 ms apart, each
# chunk a distinct word, so coalesced `text` frames are counted by what they carry.
CHUNKS = 100
CHUNK_DELAY_SECONDS = 0.02
FIRST_TOKEN_DELAY_SECONDS = 0.3
REPLY_TEXT = " ".join(f"w{n}" for n in range(CHUNKS))
WORD = re.compile(r"\bw(\d+)\b")
# One turn's length when nothing is slow: how far apart the learners' first turns are spread.
TURN_SECONDS = FIRST_TOKEN_DELAY_SECONDS + CHUNKS * CHUNK_DELAY_SECONDS

MODEL = "openai/gpt-4o-mini"
API_KEY = "bench-key"
DEMO_SLUG = "learning-with-an-ai-tutor"
SECRET_KEY = "loadbench-only-secret-key-4c2e"  # noqa: S105 - throwaway databases
ORIGIN_HOST = "127.0.0.1"
REDIS_URL = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/0")
POSTGRES = {"host": "127.0.0.1", "port": 5432, "user": "postgres"}

# A frame silent for this long ends the turn as an error (the server is stuck).
RECEIVE_TIMEOUT_SECONDS = 60.0
# Where the bare consumer (bench/load/bare_app.py) finds the fake provider.
BARE_API_BASE_ENV = "BENCH_BARE_API_BASE"
# Handshakes in flight at once while opening many sockets (Daphne's listen backlog is 50).
CONNECT_CONCURRENCY = 40


# Learners no phase gets: the query counter's, and one per worker to warm it up.
RESERVED_LEARNERS = 4


@dataclass(frozen=True)
class Plan:
    """How big the run is: the concurrency levels (the highest is also where one and two
    workers are compared), the idle sockets, how long each phase lasts."""

    levels: tuple[int, ...]
    idle_sockets: int
    # Each phase keeps its learners busy this long; a turn started later is not started.
    phase_seconds: float
    # One worker and two at the highest c: each counted for this long once every learner's
    # first turn has ended (a saturated start takes several turns' lengths), and given up
    # as never steady after the limit.
    saturation_seconds: float
    saturation_limit_seconds: float
    # The longest the idle sockets may take to open, and to come back after a restart.
    idle_open_seconds: float
    idle_reconnect_seconds: float

    @property
    def learners(self) -> int:
        """Learners the set-up creates: one set per phase (the levels on both deployments,
        then one and two workers at the highest), the idle sockets reuse them; a few for
        warming up and counting."""
        phases = 2 * sum(self.levels) + 2 * max(self.levels)
        return max(self.idle_sockets, phases) + RESERVED_LEARNERS


FULL = Plan(
    levels=(1, 10, 50, 200),
    idle_sockets=2000,
    phase_seconds=8.0,
    saturation_seconds=20.0,
    saturation_limit_seconds=90.0,
    idle_open_seconds=60.0,
    idle_reconnect_seconds=60.0,
)
QUICK = Plan(
    levels=(1, 10),
    idle_sockets=200,
    phase_seconds=6.0,
    saturation_seconds=8.0,
    saturation_limit_seconds=30.0,
    idle_open_seconds=30.0,
    idle_reconnect_seconds=20.0,
)


def plan() -> Plan:
    return QUICK if os.environ.get("BENCH_QUICK") == "1" else FULL


def raise_file_limit() -> int:
    """Open files up to the hard limit: thousands of sockets each need a descriptor."""
    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    return hard
