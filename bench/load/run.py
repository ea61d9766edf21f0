"""The served-path load benchmark: `make bench-load` (or `python -m bench.load.run`).

Starts the fake OpenAI provider (its own process), the served app (Daphne: SQLite with
the in-memory engine; PostgreSQL + Redis, one and two workers, when they answer), a
WebSocket load client and a direct-LiteLLM client (each its own process), then prints
one table to stdout (progress goes to stderr):

- for c = 1, 10, 50, 200 concurrent turns: direct LiteLLM, then the tutor on each
  deployment, back to back: TTFT p50/p95, per-chunk gap, CPU per chunk, errors;
- two worker processes against one at saturation (PostgreSQL + Redis);
- 2,000 idle sockets: memory per socket, and the time to take them all back after a
  restart, the clients reconnecting as chat.js does;
- queries and database connections per turn, counted inside the app.

``BENCH_QUICK=1``: c = 1 and 10, 20 turns at saturation, 200 sockets.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from contextlib import ExitStack
from pathlib import Path
from typing import Any

from bench.load import databases, table
from bench.load.config import ROOT, Plan, plan
from bench.load.databases import Deployment
from bench.load.pipe import Child
from bench.load.provider import Provider, fake_provider
from bench.load.servers import Workers, start_workers

# Workers started per deployment: two where a second one can share the turns (Redis).
WORKERS = {databases.SQLITE: 1, databases.POSTGRESQL: 2}
SETTLE_SECONDS = 2.0

_started = time.monotonic()


def log(message: str) -> None:
    print(f"  [{time.monotonic() - _started:5.0f}s] {message}", file=sys.stderr, flush=True)


def _python(module: str, *args: str, env: dict[str, str], log: Path) -> subprocess.Popen:
    """``python -m module args``: its answer on stdout, its chatter in ``log``."""
    with log.open("w") as chatter:
        return subprocess.Popen(  # noqa: S603 - our own modules
            [sys.executable, "-m", module, *args],
            cwd=ROOT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=chatter,
            text=True,
        )


def _answer(process: subprocess.Popen, what: str, log: Path) -> str:
    out, _ = process.communicate()
    if process.returncode:
        raise RuntimeError(f"{what} failed ({process.returncode}):\n{log.read_text()[-3000:]}")
    return out


class Bench:
    """One run: the processes it started, the learners it has handed out, what it measured."""

    def __init__(self, plan: Plan, workdir: Path, stack: ExitStack) -> None:
        self.plan, self.workdir, self.stack = plan, workdir, stack
        self.results: dict[str, Any] = {
            "plan": plan.__dict__,
            "levels": {},
            "saturation": {},
            "idle": {},
            "queries": {},
            "labels": {},
            "notes": [],
        }
        self.deployments: list[Deployment] = []
        self.cookies: dict[str, list[str]] = {}
        self.workers: dict[str, Workers] = {}
        self._next_learner = 0

    def learners(self, count: int) -> slice:
        """Learners no phase has used yet: each concurrent turn needs a conversation."""
        taken = slice(self._next_learner, self._next_learner + count)
        self._next_learner += count
        return taken

    def set_up(self, provider: Provider) -> None:
        """Each deployment's database: migrated, the demo lesson, the fake provider, learners."""
        self.deployments = [databases.sqlite_deployment(self.workdir)]
        missing = databases.unavailable_services()
        if missing:
            self.results["notes"].append(f"PostgreSQL + Redis rows left out: {missing}.")
        else:
            self.deployments.append(databases.postgres_deployment(self.workdir))
        for deployment in self.deployments:
            self.stack.callback(databases.clean_up, deployment)
            self.results["labels"][deployment.name] = deployment.label
        setups = {
            d.name: _python(
                "bench.load.setup",
                str(self.plan.learners),
                provider.api_base,
                str(self.workdir / f"{d.name}.json"),
                env=d.env,
                log=self.workdir / f"setup-{d.name}.log",
            )
            for d in self.deployments
        }
        for name, process in setups.items():
            _answer(process, f"setting up {name}", self.workdir / f"setup-{name}.log")
            self.cookies[name] = json.loads((self.workdir / f"{name}.json").read_text())["cookies"]
        log(f"set up {', '.join(setups)} with {self.plan.learners} learners each")

    def start_servers(self, provider: Provider) -> None:
        """Every deployment's workers, and meanwhile the query counter on each."""
        counters = {}
        for d in self.deployments:
            if d.name == databases.SQLITE:
                env = databases.copy_sqlite(d, self.workdir)
            else:
                env = d.with_env(TUTOR_REDIS_PREFIX=f"{d.redis_prefix}-queries")
            counters[d.name] = _python(
                "bench.load.queries",
                self.cookies[d.name][-1],
                provider.root,
                env=env,
                log=self.workdir / f"queries-{d.name}.log",
            )
        for d in self.deployments:
            self.workers[d.name] = start_workers(d.env, WORKERS[d.name], self.workdir, d.name)
            self.stack.callback(self.workers[d.name].stop)
        for name, workers in self.workers.items():
            workers.wait_until_healthy()
            log(f"{name}: {len(workers.servers)} worker(s) healthy")
        for name, counter in counters.items():
            answer = _answer(counter, f"counting {name}", self.workdir / f"queries-{name}.log")
            self.results["queries"][name] = json.loads(answer)
        log("counted queries per turn")

    def warm_up(self, client: Child, direct: Child, provider: Provider) -> None:
        """A turn on every worker and a direct stream: first-call costs are paid here."""
        direct.call("warm", api_base=provider.api_base)
        for name, workers in self.workers.items():
            for server in workers.servers:
                client.call(
                    "turns",
                    targets=[server.url],
                    cookies=[self.cookies[name][-2]],
                    c=1,
                    seconds=0.01,
                    pids=[server.pid],
                )
        log("warmed up")

    def tutor_turns(self, client: Child, name: str, workers: Workers, c: int) -> dict[str, Any]:
        learners = self.learners(c)
        return client.call(
            "turns",
            targets=workers.urls,
            cookies=self.cookies[name][learners],
            c=c,
            seconds=self.plan.phase_seconds,
            pids=workers.pids,
        )

    def levels(self, client: Child, direct: Child, provider: Provider) -> None:
        for c in self.plan.levels:
            row = self.results["levels"][c] = {}
            provider.reset()
            row["direct"] = direct.call(
                "turns", c=c, seconds=self.plan.phase_seconds, api_base=provider.api_base
            )
            log(f"c={c} direct LiteLLM: {table.brief(row['direct'])}")
            for name, workers in self.workers.items():
                provider.reset()
                row[name] = self.tutor_turns(client, name, workers.subset(1), c)
                log(f"c={c} tutor, {name}: {table.brief(row[name])}")

    def saturation(self, client: Child) -> None:
        """One worker, then two sharing the learners, at the same concurrency (Redis)."""
        workers = self.workers.get(databases.POSTGRESQL)
        if workers is None:
            return
        c = self.plan.saturation
        for count in (1, 2):
            result = self.tutor_turns(client, databases.POSTGRESQL, workers.subset(count), c)
            self.results["saturation"][count] = result
            log(f"c={c} on {count} worker(s): {table.brief(result)}")

    def idle_sockets(self, client: Child) -> None:
        for name, workers in self.workers.items():
            self.results["idle"][name] = self._idle_sockets(client, name, workers.subset(1))

    def _idle_sockets(self, client: Child, name: str, workers: Workers) -> dict[str, Any]:
        """Sockets held open on one worker: its memory; then a restart and the reconnects."""
        count, wait = self.plan.idle_sockets, self.plan.idle_wait_seconds
        before = workers.rss_kib()
        opened = client.call(
            "idle_open", targets=workers.urls, cookies=self.cookies[name][:count], timeout=wait
        )
        time.sleep(SETTLE_SECONDS)
        grown = workers.rss_kib() - before
        log(f"{name}: {opened['opened']} idle sockets in {opened['seconds']:.1f}s, +{grown} KiB")
        stopping = time.monotonic()
        workers.stop()
        starting = time.monotonic()
        healthy_at = workers.start()
        back = client.call("idle_reconnected", timeout=wait)
        client.call("idle_close")
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
        log(f"{name}: {back['reconnected']} sockets back after the restart")
        return result


def _run(plan: Plan, workdir: Path) -> dict[str, Any]:
    with ExitStack() as stack:
        bench = Bench(plan, workdir, stack)
        env = databases.sqlite_deployment(workdir).env
        provider = stack.enter_context(fake_provider(env))
        client = Child("bench.load.client", env)
        stack.callback(client.close)
        direct = Child("bench.load.direct", env)
        stack.callback(direct.close)
        bench.set_up(provider)
        bench.start_servers(provider)
        bench.warm_up(client, direct, provider)
        bench.levels(client, direct, provider)
        bench.saturation(client)
        bench.idle_sockets(client)
        log("cleaning up")
    return bench.results


def main() -> None:
    """Run it; BENCH_WORKDIR keeps the servers' logs and databases' files there instead."""
    kept = os.environ.get("BENCH_WORKDIR")
    with tempfile.TemporaryDirectory(prefix="tutor-loadbench-") as scratch:
        workdir = Path(kept or scratch)
        workdir.mkdir(parents=True, exist_ok=True)
        results = _run(plan(), workdir)
    results["elapsed_seconds"] = time.monotonic() - _started
    print(table.render(results))


if __name__ == "__main__":
    main()
