"""The served path: what the Redis turn engine adds to every streamed chunk, against memory.

Daphne serves the project on one SQLite database set up for the run: one process with
the in-memory turn engine, one with Redis Streams, then two with Redis, where a socket
on the second follows the turns started on the first. A learner logs in over HTTP and
runs turns on WebSockets against the fake OpenAI server,
which runs in this process and streams ``CHUNKS`` chunks ``CHUNK_GAP_SECONDS`` apart.
A chunk's latency is the time from the fake server writing it to the learner's
socket receiving its ``text`` frame, both read on this process's clock, so the
difference between the two engines is what the engine adds (one concurrent turn).
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import aiohttp

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from llm_app.testing import FakeOpenAIServer, Reply  # noqa: E402
from tutor_project.testing.served_env import served_env  # noqa: E402

CHUNKS = 100
CHUNK_GAP_SECONDS = 0.02
TURNS = 6
WARM_UP_TURNS = 1
STOPS = 3
# Each configuration runs this many times, taking turns with the others.
REPEATS = 3
LEARNER = ("bench-learner", "bench-learner-password-3391")
DEMO_SLUG = "learning-with-an-ai-tutor"
STARTUP_SECONDS = 60


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]


@dataclass
class EngineResult:
    engine: str
    # Per run (the configurations take turns, REPEATS times): each chunk's latency.
    runs: list[list[float]]
    # From sending `stop` on the measured socket to its `stopped` frame (upstream cancelled,
    # reply saved): the stop may cross to the process running the turn and back.
    stops_ms: list[float]

    @property
    def chunks(self) -> int:
        return sum(len(run) for run in self.runs)

    def percentile(self, share: float) -> float:
        """The median over runs of each run's percentile: one noisy run does not decide it."""
        return statistics.median(percentile(run, share) for run in self.runs)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _env(database: Path, engine: str, redis_url: str) -> dict[str, str]:
    env = {
        **served_env(
            database,
            secret_key="bench-only-secret-key-7f1c",  # noqa: S106 - a throwaway database
            redis_prefix=f"tutor-bench-{os.getpid()}",
        ),
        "TUTOR_TURN_ENGINE": engine,
        "LOG_LEVEL": "WARNING",
        # Every chunk its own frame: this table is the engine's latency per chunk, not
        # the joining of fast chunks (bench/load measures the served path as deployed).
        "TUTOR_TEXT_FRAME_SECONDS": "0",
    }
    if engine == "redis":
        env["REDIS_URL"] = redis_url
    else:
        env.pop("REDIS_URL", None)
    return env


def _set_up(env: dict[str, str], api_base: str) -> None:
    code = f"""
from django.contrib.auth import get_user_model
from django.core.management import call_command
from llm_app.models import ProviderConfig
from llm_app.services import make_default
call_command("migrate", interactive=False, verbosity=0)
call_command("load_demo", verbosity=0)
get_user_model().objects.create_user(username={LEARNER[0]!r}, password={LEARNER[1]!r})
make_default(ProviderConfig.objects.create(
    name="Fake OpenAI", model="openai/gpt-4o-mini", api_base={api_base!r},
    api_key="bench-key", max_retries=0,
))
"""
    subprocess.run(  # noqa: S603 - fixed arguments, our own manage.py
        [sys.executable, "manage.py", "shell", "-c", code], cwd=ROOT, env=env, check=True
    )


class Daphne:
    def __init__(self, env: dict[str, str]) -> None:
        self.url = f"http://127.0.0.1:{_free_port()}"
        port = self.url.rsplit(":", 1)[1]
        self.process = subprocess.Popen(  # noqa: S603 - fixed arguments
            [sys.executable, "-m", "daphne", "-p", port, "tutor_project.asgi:application"],
            cwd=ROOT,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + STARTUP_SECONDS
        while time.monotonic() < deadline:
            try:
                with urllib.request.urlopen(f"{self.url}/healthz", timeout=2) as response:  # noqa: S310
                    if response.status == 200:
                        return
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                time.sleep(0.2)
        self.stop()
        raise RuntimeError("Daphne did not become healthy")

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(timeout=20)


async def _receive_turn(chat) -> list[float]:
    """Arrival times of one turn's text frames on ``chat``."""
    arrivals = []
    while True:
        frame = await chat.receive_json(timeout=60)
        if frame["type"] == "text":
            arrivals.append(time.monotonic())
        elif frame["type"] in ("done", "error"):
            return arrivals


async def _stop(starter, measured) -> float:
    """Start a turn on ``starter``, stop it from ``measured``: milliseconds until it says so."""
    await starter.send_str(json.dumps({"type": "message", "content": "A long one, please"}))
    while (await measured.receive_json(timeout=60))["type"] != "text":
        pass
    sent = time.monotonic()
    await measured.send_str(json.dumps({"type": "stop"}))
    while True:
        frame = await measured.receive_json(timeout=60)
        if frame["type"] == "error" and frame.get("code") == "stopped":
            stopped = (time.monotonic() - sent) * 1000
            break
    if starter is not measured:
        while (await starter.receive_json(timeout=60))["type"] != "error":
            pass
    return stopped


async def _turns(
    base_urls: list[str], fake: FakeOpenAIServer, measured: int
) -> tuple[list[float], list[float]]:
    """Latencies on a socket to each of ``base_urls`` (turns start on the first), and the
    stop times on socket ``measured``."""
    latencies: list[list[float]] = [[] for _ in base_urls]
    async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as browser:
        login = f"{base_urls[0]}/accounts/login/"
        async with browser.get(login) as response:
            token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', await response.text())
        form = {"username": LEARNER[0], "password": LEARNER[1], "csrfmiddlewaretoken": token[1]}
        async with browser.post(login, data=form, allow_redirects=False):
            pass
        chats = []
        for base_url in base_urls:
            url = f"{base_url.replace('http', 'ws', 1)}/ws/lessons/{DEMO_SLUG}/chat/"
            chat = await browser.ws_connect(url, origin=base_url)
            await chat.receive_json()  # history
            chats.append(chat)
        for turn in range(WARM_UP_TURNS + TURNS):
            await chats[0].send_str(json.dumps({"type": "message", "content": f"Turn {turn}"}))
            arrivals = await asyncio.gather(*(_receive_turn(chat) for chat in chats))
            sent = fake.last_request.chunk_times
            if turn >= WARM_UP_TURNS:
                for socket_latencies, arrived in zip(latencies, arrivals, strict=True):
                    socket_latencies += [
                        (a - s) * 1000 for a, s in zip(arrived, sent, strict=False)
                    ]
        stops = [await _stop(chats[0], chats[measured]) for _ in range(STOPS)]
        for chat in chats:
            await chat.close()
    return latencies[measured], stops


def _redis_url() -> str | None:
    from redis import Redis

    url = os.environ.get("REDIS_URL") or "redis://127.0.0.1:6379/0"
    try:
        Redis.from_url(url, socket_connect_timeout=1).ping()
    except Exception:  # noqa: BLE001 - no Redis here: that row is left out
        return None
    return url


def measure() -> list[EngineResult]:
    """Per-chunk latency on each engine available here (Redis only if it answers)."""
    redis_url = _redis_url()
    with tempfile.TemporaryDirectory() as workdir, FakeOpenAIServer() as fake:
        fake.default_reply = Reply.text(
            " ".join(f"w{n}" for n in range(CHUNKS)), chunks=CHUNKS, chunk_delay=CHUNK_GAP_SECONDS
        )
        database = Path(workdir) / "bench.sqlite3"
        _set_up(_env(database, "memory", ""), fake.url)
        # (engine, servers, socket measured): on Redis, a second run with a second worker
        # whose socket follows the turns started on the first shows the path between them.
        configurations = (
            [("memory", 1, 0), ("redis", 1, 0), ("redis", 2, 1)]
            if redis_url
            else [("memory", 1, 0)]
        )
        results = [
            EngineResult(f"{engine}, {'same' if socket == 0 else 'other'} process", [], [])
            for engine, _, socket in configurations
        ]
        for repeat in range(REPEATS):
            for result, (engine, count, socket) in zip(results, configurations, strict=True):
                servers = [Daphne(_env(database, engine, redis_url or "")) for _ in range(count)]
                try:
                    latencies, stops = asyncio.run(
                        _turns([server.url for server in servers], fake, socket)
                    )
                finally:
                    for server in servers:
                        server.stop()
                result.runs.append(latencies)
                result.stops_ms += stops
                print(f"  measured served path, {result.engine} ({repeat + 1})", file=sys.stderr)
    return results


def table(results: list[EngineResult]) -> str:
    memory = results[0]
    lines = [
        f"\nserved path, 1 turn at a time, {CHUNKS} chunks {CHUNK_GAP_SECONDS * 1000:.0f} ms "
        "apart: latency from the provider writing a chunk to the learner's socket; "
        f"stop: from `stop` on that socket to its `stopped` frame. Percentiles: median of "
        f"{REPEATS} runs taking turns",
        f"{'engine, socket':<22}  {'chunks':>6}  {'p50 ms':>7}  {'p95 ms':>7}  "
        f"{'p50 - memory':>12}  {'p95 - memory':>12}  {'stop, max ms':>12}",
        f"{'-' * 22}  {'-' * 6}  {'-' * 7}  {'-' * 7}  {'-' * 12}  {'-' * 12}  {'-' * 12}",
    ]
    for result in results:
        p50, p95 = result.percentile(0.5), result.percentile(0.95)
        lines.append(
            f"{result.engine:<22}  {result.chunks:>6}  {p50:>7.2f}  {p95:>7.2f}  "
            f"{p50 - memory.percentile(0.5):>+12.2f}  {p95 - memory.percentile(0.95):>+12.2f}  "
            f"{max(result.stops_ms):>12.1f}"
        )
    if len(results) == 1:
        lines.append("(redis: no Redis answered at REDIS_URL or 127.0.0.1:6379)")
    return "\n".join(lines)


if __name__ == "__main__":
    print(table(measure()))
