"""The served-path load benchmark: `make bench-load` (or `python -m bench.load.run`).

Starts the fake OpenAI provider (its own process), the served app (Daphne: SQLite with
the in-memory engine; PostgreSQL + Redis, one and two workers, when they answer), a
WebSocket load client and a direct-LiteLLM client (each its own process), then prints
one table to stdout (progress goes to stderr):

- for c = 1, 10, 50, 200 concurrent turns: direct LiteLLM, the bare consumer from c = 10
  (the stack's floor: Daphne and Channels forwarding LiteLLM's chunks,
  bench/load/bare_app.py), then the tutor on each deployment, back to back: TTFT
  p50/p95, per-chunk gap, CPU per chunk, errors;
- one worker process against two at the highest c, where one is saturated (PostgreSQL
  + Redis): back to back, equally long, both in a steady window (bench/load/phase.py);
- 2,000 idle sockets (on the bare consumer too): memory per socket, and the time to
  take them all back after a restart, the clients reconnecting as chat.js does; then on
  PostgreSQL + Redis the rolling restart of a deploy (``tutor_project.serve``, 2
  workers, SIGHUP), and a cold restart of that server (SIGTERM, then started again);
- queries and database connections per turn, counted inside the app.

``BENCH_QUICK=1``: c = 1 and 10, 200 sockets. ``BENCH_WORKDIR``: keep the servers' logs.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from contextlib import ExitStack
from pathlib import Path
from typing import Any

from bench.load import databases, table
from bench.load.config import ROOT, Plan, plan
from bench.load.connections import FileOpens, Sessions
from bench.load.databases import Deployment
from bench.load.idle_phase import idle_sockets
from bench.load.pipe import Child
from bench.load.progress import elapsed, log
from bench.load.provider import Provider, fake_provider
from bench.load.rolling import rolling_restart
from bench.load.servers import Server, Workers, start_bare, start_workers

# Workers started per deployment: two where a second one can share the turns (Redis).
WORKERS = {databases.SQLITE: 1, databases.POSTGRESQL: 2}
# The bare consumer has no learners: any cookie does.
BARE_COOKIE = "bench=bare"
# Below this c a phase holds four turns, whose CPU is read in 10 ms clock ticks: the
# floor's ratio there would be noise, and the phase would cost ten seconds of the ten
# minutes the benchmark may take.
BARE_LOWEST_C = 10
# Learners from the end of the list, never handed out to a phase (config.Plan.learners).
QUERY_LEARNER = -1
WARM_UP_LEARNERS = (-2, -3, -4)


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
            "rolling": {},
            "cold": {},
            "queries": {},
            "labels": {},
            "notes": [],
        }
        self.deployments: list[Deployment] = []
        self.provider: Provider | None = None
        self.cookies: dict[str, list[str]] = {}
        self.workers: dict[str, Workers] = {}
        self.bare: Server | None = None
        self.counters: dict[str, FileOpens | Sessions] = {}
        # Connections each deployment opens per second with nothing to do (sweeps, beats).
        self.idle_rates: dict[str, float] = {}
        self._next_learner = 0

    def learners(self, count: int) -> slice:
        """Learners no phase has used yet: each concurrent turn needs a conversation."""
        taken = slice(self._next_learner, self._next_learner + count)
        self._next_learner += count
        return taken

    def section(self, title: str, step: Callable[[], object]) -> None:
        """Run one part of the benchmark; if it fails, say so in the table and go on."""
        try:
            step()
        except Exception as error:  # noqa: BLE001 - one failed part must not lose the others
            log(f"{title} failed: {error}")
            self.results["notes"].append(f"{title} failed: {type(error).__name__}: {error}"[:400])

    def set_up(self, provider: Provider) -> None:
        """Each deployment's database: migrated, the demo lesson, the fake provider, learners."""
        self.provider = provider
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

    def _count_queries(self, deployment: Deployment, provider: Provider) -> subprocess.Popen:
        """The in-process query counter, on a database file of its own for SQLite."""
        if deployment.name == databases.SQLITE:
            env = databases.copy_sqlite(deployment, self.workdir)
        else:
            env = deployment.with_env(TUTOR_REDIS_PREFIX=f"{deployment.redis_prefix}-queries")
        return _python(
            "bench.load.queries",
            self.cookies[deployment.name][QUERY_LEARNER],
            provider.root,
            env=env,
            log=self.workdir / f"queries-{deployment.name}.log",
        )

    def start_servers(self, provider: Provider) -> None:
        """Every deployment's workers, and meanwhile the query counter on each."""
        counting = {d.name: self._count_queries(d, provider) for d in self.deployments}
        for d in self.deployments:
            self.workers[d.name] = start_workers(d.env, WORKERS[d.name], self.workdir, d.name)
            self.stack.callback(self.workers[d.name].stop)
            self.counters[d.name] = databases.connection_counter(d)
        for name, workers in self.workers.items():
            workers.wait_until_healthy()
            log(f"{name}: {len(workers.servers)} worker(s) healthy")
        for name, counter in counting.items():
            answer = _answer(counter, f"counting {name}", self.workdir / f"queries-{name}.log")
            self.results["queries"][name] = json.loads(answer)
        log("counted queries per turn")

    def warm_up(self, client: Child, direct: Child, provider: Provider) -> None:
        """A turn on every worker and a direct stream: first-call costs are paid here."""
        direct.call("warm", api_base=provider.api_base)
        self.bare_phase(client, 1, seconds=0.01)
        servers = [(name, s) for name, w in self.workers.items() for s in w.servers]
        client.call(
            "turns",
            targets=[server.url for _, server in servers],
            cookies=[
                self.cookies[name][WARM_UP_LEARNERS[n]] for n, (name, _) in enumerate(servers)
            ],
            c=len(servers),
            seconds=0.01,
            pids=[server.pid for _, server in servers],
        )
        log("warmed up")

    def _counted(self, run: Callable[[], dict[str, Any]]) -> tuple[dict[str, Any], dict, float]:
        """``run()``, the connections each deployment opened meanwhile, and its seconds."""
        before = {name: counter.count() for name, counter in self.counters.items()}
        started = time.monotonic()
        result = run()
        seconds = time.monotonic() - started
        opened = {name: counter.count() - before[name] for name, counter in self.counters.items()}
        return result, opened, seconds

    def tutor_phase(
        self,
        client: Child,
        name: str,
        workers: Workers,
        c: int,
        *,
        steady: bool = False,
    ) -> dict[str, Any]:
        """c of the learners no phase has used, on ``workers``, for a phase's length;
        ``steady``: for the saturation's, in a steady window (bench/load/phase.py)."""
        learners = self.learners(c)
        summary, opened, seconds = self._counted(
            lambda: client.call(
                "turns",
                targets=workers.urls,
                cookies=self.cookies[name][learners],
                c=c,
                seconds=self.plan.saturation_seconds if steady else self.plan.phase_seconds,
                pids=workers.pids,
                harness_pids=[self.provider.pid],
                steady_limit=self.plan.saturation_limit_seconds if steady else None,
            )
        )
        if summary.get("turns") and name in self.idle_rates:
            busy = opened[name] - self.idle_rates[name] * seconds
            summary["connections_per_turn"] = busy / summary["turns"]
        return summary

    def start_bare(self, provider: Provider) -> None:
        self.bare = start_bare(self.deployments[0].env, provider.api_base, self.workdir)
        self.stack.callback(self.bare.stop)

    def bare_phase(self, client: Child, c: int, seconds: float) -> dict[str, Any]:
        """c learners on the bare consumer: what Daphne and Channels cost around LiteLLM."""
        return client.call(
            "turns",
            targets=[self.bare.url],
            cookies=[BARE_COOKIE] * c,
            c=c,
            seconds=seconds,
            pids=[self.bare.pid],
            harness_pids=[self.provider.pid],
        )

    def levels(self, client: Child, direct: Child, provider: Provider) -> None:
        """Direct LiteLLM, the bare consumer, then the tutor on each deployment (one
        worker), at each c."""
        for c in self.plan.levels:
            row = self.results["levels"][c] = {}
            provider.reset()
            row["direct"], opened, seconds = self._counted(
                lambda c=c: direct.call(
                    "turns", c=c, seconds=self.plan.phase_seconds, api_base=provider.api_base
                )
            )
            log(f"c={c} direct LiteLLM: {table.brief(row['direct'])}")
            if not self.idle_rates:  # the servers had nothing to do meanwhile
                self.idle_rates = {name: count / seconds for name, count in opened.items()}
            if c >= BARE_LOWEST_C:
                provider.reset()
                row[table.BARE] = self.bare_phase(client, c, self.plan.phase_seconds)
                log(f"c={c} bare consumer: {table.brief(row[table.BARE])}")
            for name, workers in self.workers.items():
                provider.reset()
                row[name] = self.tutor_phase(client, name, workers.subset(1), c)
                log(f"c={c} tutor, {name}: {table.brief(row[name])}")

    def saturation(self, client: Child) -> None:
        """One worker, then two sharing the learners, at the highest c: measured alike.

        Not the level's row for one worker: that phase is short, and at saturation its
        window holds mostly the start (c turns opened at once), which two workers clear
        more than twice as fast. Here both run back to back, on fresh learners, and
        count equally long from the moment every learner's first turn has ended.
        """
        workers = self.workers.get(databases.POSTGRESQL)
        if workers is None:
            return
        c = max(self.plan.levels)
        self.results["saturation"] = {"c": c}
        for key, count in (("one", 1), ("two", len(workers.servers))):
            result = self.tutor_phase(
                client,
                databases.POSTGRESQL,
                workers.subset(count),
                c,
                steady=True,
            )
            self.results["saturation"][key] = result
            log(f"c={c} steady, {count} worker(s): {table.brief(result)}")

    def idle_sockets(self, client: Child) -> None:
        """On the bare consumer first, then on each deployment: the same sockets, restart."""
        self.section(
            "idle sockets, bare consumer",
            lambda: self.results["idle"].__setitem__(
                table.BARE,
                idle_sockets(
                    client, [BARE_COOKIE] * self.plan.idle_sockets, Workers([self.bare]), self.plan
                ),
            ),
        )
        for name, workers in self.workers.items():
            self.section(
                f"idle sockets, {name}",
                lambda name=name, workers=workers: self.results["idle"].__setitem__(
                    name, idle_sockets(client, self.cookies[name], workers.subset(1), self.plan)
                ),
            )

    def _restarts(self, name: str, rolling: dict[str, Any]) -> None:
        self.results["cold"][name] = rolling.pop("cold")
        self.results["rolling"][name] = rolling

    def rolling_restart(self, client: Child) -> None:
        """The deploy of docs/deployment.md (serve, SIGHUP), where several workers can run."""
        for deployment in self.deployments:
            if WORKERS[deployment.name] < 2:
                continue
            self.section(
                f"rolling restart, {deployment.name}",
                lambda d=deployment: self._restarts(
                    d.name,
                    rolling_restart(client, d.env, self.cookies[d.name], self.plan, self.workdir),
                ),
            )


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
        bench.start_bare(provider)
        bench.start_servers(provider)
        bench.warm_up(client, direct, provider)
        bench.levels(client, direct, provider)
        bench.section("two workers", lambda: bench.saturation(client))
        bench.idle_sockets(client)
        bench.rolling_restart(client)
        log("cleaning up")
    return bench.results


def main() -> None:
    """Run it; BENCH_WORKDIR keeps the servers' logs and databases' files there instead."""
    kept = os.environ.get("BENCH_WORKDIR")
    with tempfile.TemporaryDirectory(prefix="tutor-loadbench-") as scratch:
        workdir = Path(kept or scratch)
        workdir.mkdir(parents=True, exist_ok=True)
        results = _run(plan(), workdir)
    results["elapsed_seconds"] = elapsed()
    print(table.render(results))


if __name__ == "__main__":
    main()
