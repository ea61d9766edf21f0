"""The workers' lives: started on sockets of their own, restarted, replaced, stopped.

The supervisor is one thread that looks at its workers a few times a second
(:meth:`Supervisor.step`); time and processes are handed in, so tests drive it with a
manual clock and fake processes. A worker is *ready* once it says so on a pipe of its
own, which it does when Daphne is running on its socket (:class:`WorkerProcess`).

- While no worker serves (at start, or once every worker has died), a new worker's
  socket is listened on at once, so the connections that come while it loads its
  application (seconds) wait in the kernel's queue instead of being refused: a refused
  page backs off, for up to 15 s, and after a restart came back long after the workers
  could have taken it. Otherwise the worker listens itself once it has loaded, and the
  kernel sends the connections to the workers that serve meanwhile.
- A worker that dies before it was ever ready means the application cannot start
  (an import error, a refused configuration): the supervisor stops everything and
  exits non-zero, rather than restart it forever.
- A worker that dies later is restarted on a fresh socket after a delay that doubles
  while it keeps dying young (:class:`RestartBackoff`); its old socket is closed at
  once, so meanwhile the kernel sends new connections to the other workers.
- On SIGHUP the workers are replaced together: a new one starts beside each old one,
  and once every new one listens the old ones are sent ``REPLACED_SIGNAL`` at once, so the port
  never goes unserved and the pages of the old workers reconnect to workers that have
  finished starting (a new worker that fails to start ends the replacing: the other
  new ones are stopped and the old ones stay). Replaced one at a time, the second new
  worker took seconds longer to start while the first old one's pages reconnected, and
  its own pages then reconnected once more onto the first.
"""

from __future__ import annotations

import logging
import os
import signal
import socket
import subprocess
import sys
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from tutor_project.serve.errors import Misconfigured
from tutor_project.serve.sockets import LISTEN_BACKLOG

WORKER_MODULE = "tutor_project.serve.worker"
# How often the supervisor looks at its workers, and answers signals.
STEP_SECONDS = 0.1
# How long stopping workers may take (saving their turns) before they are killed.
STOP_SECONDS = 20.0
EXIT_WORKER_FAILED = 1
# What a worker writes on its readiness pipe once Daphne serves on its socket.
READY_BYTE = b"!"
# What a worker replaced by new ones is sent: stop, closing its chat sockets at a pace the
# new workers can take (tutor_project/serve/drain.py). SIGTERM stops one at once.
REPLACED_SIGNAL = signal.SIGUSR1

logger = logging.getLogger("tutor.serve")


class Process(Protocol):
    """What the supervisor needs of a worker process (:class:`WorkerProcess` has it)."""

    pid: int

    def poll(self) -> int | None: ...

    def send_signal(self, sig: int) -> None: ...

    def kill(self) -> None: ...

    def wait(self, timeout: float | None = None) -> int: ...

    def is_ready(self) -> bool:
        """Whether it has said it serves (never true again after it died without saying)."""

    def close(self) -> None:
        """Release what the supervisor holds for it (not the process itself)."""


Spawn = Callable[[socket.socket], Process]


class WorkerFailed(Exception):
    """A worker could not start at all: restarting it would only fail again."""


@dataclass
class RestartBackoff:
    """How long to wait before restarting a worker that died: doubling while it dies young.

    A worker that had served for ``stable_after`` seconds before dying starts the count
    afresh, so one crash a day is restarted after ``first`` seconds, not after the
    longest delay.
    """

    first: float = 1.0
    longest: float = 30.0
    stable_after: float = 60.0
    failures: int = 0

    def delay_after(self, lived: float) -> float:
        """The delay before restarting a worker that died after ``lived`` seconds."""
        if lived >= self.stable_after:
            self.failures = 0
        self.failures += 1
        return min(self.longest, self.first * 2 ** (self.failures - 1))


@dataclass
class Running:
    """A worker process and the socket it listens on."""

    process: Process
    sock: socket.socket
    started_at: float
    ready: bool = False
    # When it was told to stop (replaced by a new worker), if it was.
    stopping_since: float | None = None

    def close(self) -> None:
        self.sock.close()
        self.process.close()


@dataclass
class Slot:
    """One of the N workers: its process now, its successor while replaced, its restarts."""

    number: int
    backoff: RestartBackoff = field(default_factory=RestartBackoff)
    current: Running | None = None
    successor: Running | None = None
    restart_at: float | None = None
    ever_ready: bool = False


def describe_exit(returncode: int) -> str:
    """How a process ended, for the log: its exit code, or the signal that killed it."""
    if returncode < 0:
        try:
            return f"was killed by {signal.Signals(-returncode).name}"
        except ValueError:
            return f"was killed by signal {-returncode}"
    return f"exited with code {returncode}"


class WorkerProcess:
    """A worker's process, and the read end of the pipe on which it says it is serving.

    Readiness is the worker's word, not its socket's state: it listens before Daphne
    adopts the socket, and Daphne can still fail then (a bad option, say).
    """

    def __init__(self, popen: subprocess.Popen, ready_pipe: int) -> None:
        self._popen = popen
        self._ready_pipe: int | None = ready_pipe
        self._ready = False
        self.pid = popen.pid

    def poll(self) -> int | None:
        return self._popen.poll()

    def send_signal(self, sig: int) -> None:
        self._popen.send_signal(sig)

    def kill(self) -> None:
        self._popen.kill()

    def wait(self, timeout: float | None = None) -> int:
        return self._popen.wait(timeout)

    def is_ready(self) -> bool:
        if self._ready or self._ready_pipe is None:
            return self._ready
        try:
            said = os.read(self._ready_pipe, len(READY_BYTE))
        except BlockingIOError:
            return False  # nothing said yet
        self._ready = said == READY_BYTE
        if not self._ready:  # the pipe closed: it exited without being ready
            self.close()
        return self._ready

    def close(self) -> None:
        if self._ready_pipe is not None:
            os.close(self._ready_pipe)
            self._ready_pipe = None


def spawn_worker(sock: socket.socket, daphne_options: Sequence[str], cwd: Path) -> WorkerProcess:
    """Start a worker process on ``sock`` (the same descriptor number in the child).

    In a process group of its own, so a terminal's Ctrl-C reaches the supervisor
    only, which passes it on once to each worker.
    """
    ready_read, ready_write = os.pipe()
    os.set_blocking(ready_read, False)
    fd = sock.fileno()
    command = [sys.executable, "-m", WORKER_MODULE, "--listen-fd", str(fd)]
    command += ["--ready-fd", str(ready_write), "--supervisor", str(os.getpid())]
    try:
        popen = subprocess.Popen(  # noqa: S603 - our own module
            [*command, "--", *daphne_options],
            pass_fds=(fd, ready_write),
            process_group=0,
            cwd=cwd,
        )
    except BaseException:
        os.close(ready_read)
        raise
    finally:
        os.close(ready_write)  # the worker's now: EOF here once it has exited
    return WorkerProcess(popen, ready_read)


class SignalInbox:
    """Signals received, in order, for the supervisor's loop to act on between steps."""

    HANDLED = (signal.SIGTERM, signal.SIGINT, signal.SIGHUP)

    def __init__(self) -> None:
        self._received: deque[int] = deque()

    def install(self) -> None:
        for signum in self.HANDLED:
            signal.signal(signum, self.receive)

    def receive(self, signum: int, frame: object = None) -> None:
        self._received.append(signum)

    def pop(self) -> int | None:
        return self._received.popleft() if self._received else None


class Supervisor:
    """N worker slots: starts, watches, restarts, replaces and stops their processes."""

    def __init__(
        self,
        workers: int,
        *,
        new_socket: Callable[[], socket.socket],
        spawn: Spawn,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.slots = [Slot(number) for number in range(1, workers + 1)]
        # Replaced workers, told to stop, not yet gone.
        self.retiring: list[Running] = []
        self._new_socket = new_socket
        self._spawn = spawn
        self._clock = clock

    def start(self) -> None:
        for slot in self.slots:
            slot.current = self._launch(slot)

    def step(self) -> None:
        """Look at every worker once; raises :class:`WorkerFailed` if one cannot start."""
        now = self._clock()
        for slot in self.slots:
            self._watch_current(slot, now)
        self._watch_successors()
        self._reap_retiring(now)

    def replace_all(self) -> None:
        """Start a new process beside every worker that serves (SIGHUP); they take over
        together once all of them are ready (:meth:`_watch_successors`)."""
        if any(slot.successor for slot in self.slots):
            logger.info("already replacing the workers")
            return
        serving = self._serving_slots()
        if not serving:
            # Every worker is still (re)starting, so each already loads the new code.
            logger.info("no worker serves yet: nothing to replace")
            return
        for slot in serving:
            slot.successor = self._launch(slot)
        noun = "worker" if len(serving) == 1 else "workers together"
        logger.info("replacing %d serving %s", len(serving), noun)

    def run(self, inbox: SignalInbox, *, sleep: Callable[[float], None] = time.sleep) -> int:
        """Serve until SIGTERM or SIGINT; 0 then, 1 if a worker could not start."""
        stop_signal = signal.SIGTERM
        try:
            self.start()
            while (signum := inbox.pop()) not in (signal.SIGTERM, signal.SIGINT):
                if signum == signal.SIGHUP:
                    self.replace_all()
                self.step()
                sleep(STEP_SECONDS)
            stop_signal = signum
            logger.info("%s received: stopping the workers", signal.Signals(signum).name)
        except WorkerFailed as exc:
            logger.error("%s; stopping the other workers.", exc)
            return EXIT_WORKER_FAILED
        finally:
            self.stop(stop_signal, sleep=sleep)
        return 0

    def stop(
        self,
        sig: int = signal.SIGTERM,
        *,
        sleep: Callable[[float], None] = time.sleep,
        timeout: float = STOP_SECONDS,
    ) -> None:
        """Pass ``sig`` on to every worker, wait up to ``timeout`` for them, kill the rest."""
        everyone = [
            running
            for slot in self.slots
            for running in (slot.current, slot.successor)
            if running is not None
        ] + self.retiring
        for running in everyone:
            if running.stopping_since is None and running.process.poll() is None:
                running.process.send_signal(sig)
        deadline = self._clock() + timeout
        while any(r.process.poll() is None for r in everyone) and self._clock() < deadline:
            sleep(STEP_SECONDS)
        for running in everyone:
            if running.process.poll() is None:
                logger.warning(
                    "worker pid %d did not stop in %.0f s: killing it", running.process.pid, timeout
                )
                running.process.kill()
                running.process.wait()
            running.close()
        logger.info("all workers stopped")

    def _serving_slots(self) -> list[Slot]:
        return [slot for slot in self.slots if slot.current is not None and slot.current.ready]

    def _launch(self, slot: Slot) -> Running:
        sock = self._new_socket()
        try:
            if not self._serving_slots():
                sock.listen(LISTEN_BACKLOG)  # queued until the worker serves: see above
            process = self._spawn(sock)
        except BaseException:
            sock.close()
            raise
        logger.info("worker %d started (pid %d)", slot.number, process.pid)
        return Running(process, sock, started_at=self._clock())

    def _watch_current(self, slot: Slot, now: float) -> None:
        running = slot.current
        if running is None:
            if slot.restart_at is not None and now >= slot.restart_at:
                self._restart(slot, now)
            return
        returncode = running.process.poll()
        if returncode is None:
            if not running.ready and running.process.is_ready():
                running.ready = slot.ever_ready = True
                logger.info("worker %d (pid %d) is ready", slot.number, running.process.pid)
            return
        running.close()
        slot.current = None
        how = f"worker {slot.number} (pid {running.process.pid}) {describe_exit(returncode)}"
        if not slot.ever_ready:
            raise WorkerFailed(f"{how} before it was ready: it cannot start (its output is above)")
        delay = slot.backoff.delay_after(now - running.started_at)
        slot.restart_at = now + delay
        logger.warning("%s; restarting it in %.0f s", how, delay)

    def _restart(self, slot: Slot, now: float) -> None:
        slot.restart_at = None
        try:
            slot.current = self._launch(slot)
        except (Misconfigured, OSError) as exc:
            delay = slot.backoff.delay_after(0)
            slot.restart_at = now + delay
            logger.error(
                "worker %d could not be restarted (%s); trying again in %.0f s",
                slot.number,
                exc,
                delay,
            )

    def _watch_successors(self) -> None:
        replacing = [slot for slot in self.slots if slot.successor is not None]
        for slot in replacing:
            new = slot.successor
            returncode = new.process.poll()
            if returncode is not None:
                self._stop_replacing(slot, returncode)
                return
            if not new.ready and new.process.is_ready():
                new.ready = True
                logger.info("new worker %d (pid %d) is ready", slot.number, new.process.pid)
        if not replacing or not all(slot.successor.ready for slot in replacing):
            return
        for slot in replacing:
            old, slot.current, slot.successor = slot.current, slot.successor, None
            slot.restart_at = None
            logger.info("worker %d replaced by pid %d", slot.number, slot.current.process.pid)
            if old is not None:
                self._retire(old, REPLACED_SIGNAL)

    def _stop_replacing(self, failed: Slot, returncode: int) -> None:
        """A new worker died before it was ready: the old workers go on serving."""
        logger.error(
            "the new worker %d (pid %d) %s before it was ready: replacing stopped, "
            "the old workers go on serving",
            failed.number,
            failed.successor.process.pid,
            describe_exit(returncode),
        )
        failed.successor.close()
        failed.successor = None
        for slot in self.slots:
            if slot.successor is not None:
                self._retire(slot.successor)
                slot.successor = None

    def _retire(self, running: Running, sig: int = signal.SIGTERM) -> None:
        # The supervisor's copy of its socket too: while any copy is open the kernel still
        # queues connections on it, which are reset when the worker exits.
        running.sock.close()
        running.stopping_since = self._clock()
        if running.process.poll() is None:
            running.process.send_signal(sig)
        self.retiring.append(running)

    def _reap_retiring(self, now: float) -> None:
        for running in list(self.retiring):
            if running.process.poll() is not None:
                running.close()
                self.retiring.remove(running)
            elif now - running.stopping_since > STOP_SECONDS:
                logger.warning(
                    "replaced worker pid %d did not stop: killing it", running.process.pid
                )
                running.process.kill()
