"""``python -m tutor_project.serve``'s parts: options, refusals, sockets, the supervisor.

The supervisor runs here on a manual clock with fake processes and sockets, so restarts,
back-off, replacing and stopping are checked step by step, never by waiting.
test_serve_e2e.py runs the real thing.
"""

from __future__ import annotations

import logging
import os
import signal
import socket
import subprocess
import sys
from dataclasses import dataclass, field

import pytest

from tutor_project.serve import cli, worker
from tutor_project.serve.errors import Misconfigured
from tutor_project.serve.sockets import LISTEN_BACKLOG, reserve, resolve, worker_socket
from tutor_project.serve.supervisor import (
    EXIT_WORKER_FAILED,
    REPLACED_SIGNAL,
    STOP_SECONDS,
    RestartBackoff,
    SignalInbox,
    Supervisor,
    WorkerFailed,
    WorkerProcess,
    describe_exit,
)
from tutor_project.testing.ports import LOOPBACK

# --- the command line -----------------------------------------------------------------


def test_options_default_to_one_worker_per_core_on_loopback(monkeypatch):
    monkeypatch.setattr(os, "cpu_count", lambda: 6)
    options = cli.parse_options([])
    assert options == cli.ServeOptions(
        workers=6 * cli.WORKERS_PER_CORE, host="127.0.0.1", port=8000
    )


def test_options_after_the_mark_go_to_daphne():
    own = ["--workers", "3", "--host", "::1", "--port", "9000", "--proxy-headers"]
    options = cli.parse_options([*own, "--", "--ping-interval", "15"])
    assert (options.workers, options.host, options.port) == (3, "::1", 9000)
    assert options.daphne_options == ("--proxy-headers", "--ping-interval", "15")


@pytest.mark.parametrize("daphne_option", ["-p", "--port=9", "--fd", "-b", "--endpoint", "-u"])
def test_daphne_options_that_say_where_to_listen_are_refused(daphne_option, capsys):
    with pytest.raises(SystemExit) as exited:
        cli.parse_options(["--", daphne_option, "1"])
    assert exited.value.code == 2
    assert "use --host and --port" in capsys.readouterr().err


@pytest.mark.parametrize("workers", ["0", "-1", "two"])
def test_a_worker_count_below_one_is_refused(workers):
    with pytest.raises(SystemExit):
        cli.parse_options(["--workers", workers])


def test_several_workers_are_refused_on_the_in_memory_engine(settings):
    settings.TUTOR_TURN_ENGINE = "memory"
    with pytest.raises(Misconfigured, match="REDIS_URL") as refused:
        cli.check_turn_engine(2)
    assert "'memory'" in str(refused.value)
    cli.check_turn_engine(1)  # one process is what the in-memory engine is for


def test_several_workers_are_served_on_the_redis_engine(settings):
    settings.TUTOR_TURN_ENGINE = "redis"
    cli.check_turn_engine(4)


def test_an_unknown_engine_is_a_misconfiguration(settings):
    settings.TUTOR_TURN_ENGINE = "carrier-pigeon"
    with pytest.raises(Misconfigured, match="TUTOR_TURN_ENGINE must be one of"):
        cli.check_turn_engine(1)


def test_main_refuses_before_starting_any_worker(settings, monkeypatch, caplog):
    settings.TUTOR_TURN_ENGINE = "memory"

    def spawn(*args, **kwargs):
        raise AssertionError("no worker may start")

    monkeypatch.setattr(cli, "spawn_worker", spawn)
    monkeypatch.setattr(cli, "_log_to_stderr", lambda: None)  # to caplog, through the root
    assert cli.main(["--workers", "2", "--port", "0"]) == cli.EXIT_MISCONFIGURED
    assert "need a turn engine shared between processes" in caplog.text


def test_sqlite_with_several_workers_is_warned_about(settings, monkeypatch):
    monkeypatch.setitem(settings.DATABASES["default"], "ENGINE", "django.db.backends.sqlite3")
    assert "PostgreSQL" in cli.deployment_warnings(2)[0]
    assert cli.deployment_warnings(1) == []


# --- sockets -------------------------------------------------------------------------


def is_listening(sock: socket.socket) -> bool:
    return bool(sock.getsockopt(socket.SOL_SOCKET, socket.SO_ACCEPTCONN))


def test_every_worker_gets_its_own_socket_on_one_port():
    address = reserve(LOOPBACK, 0)
    assert address.port != 0
    first, second = worker_socket(address), worker_socket(address)
    try:
        for sock in (first, second):
            assert sock.getsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT) == 1
            assert sock.getsockname() == (LOOPBACK, address.port)
            assert not sock.getblocking()  # Twisted adopts only non-blocking sockets
            assert sock.get_inheritable() is False  # pass_fds hands it to its worker only
            assert not is_listening(sock)  # its worker listens, once it is ready
        second.listen()
        assert is_listening(second)
        with socket.create_connection((LOOPBACK, address.port), timeout=5):
            pass  # only the listening socket takes connections
    finally:
        first.close()
        second.close()


def test_a_port_another_server_listens_on_is_refused():
    with socket.socket() as other:
        other.bind((LOOPBACK, 0))
        other.listen()
        with pytest.raises(Misconfigured, match="Is another server running there"):
            reserve(LOOPBACK, other.getsockname()[1])


def test_a_port_another_supervisors_workers_share_is_refused():
    """SO_REUSEPORT would split the traffic with them without a word."""
    address = reserve(LOOPBACK, 0)
    others = worker_socket(address)
    try:
        others.listen()
        with pytest.raises(Misconfigured, match="in use"):
            reserve(LOOPBACK, address.port)
    finally:
        others.close()


def test_an_unknown_host_is_a_misconfiguration(monkeypatch):
    def unknown(*args, **kwargs):
        raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")

    monkeypatch.setattr(socket, "getaddrinfo", unknown)  # no name look-up leaves a test
    with pytest.raises(Misconfigured, match=r"Cannot listen on 'tutor\.invalid'"):
        resolve("tutor.invalid", 80)


# --- the worker process -------------------------------------------------------------------


def test_ipv6_is_refused_because_daphne_adopts_ipv4_sockets_only():
    with pytest.raises(Misconfigured, match="IPv4 sockets only"):
        resolve("::1", 0)


def test_the_worker_runs_daphne_on_its_descriptor():
    assert worker.daphne_argv(5, ["--proxy-headers"]) == [
        "--fd",
        "5",
        "--websocket_connect_timeout",
        "30",
        "--proxy-headers",
        worker.ASGI_APPLICATION,
    ]


def test_a_handshake_timeout_on_the_command_line_is_kept():
    options = ["--websocket_connect_timeout", "7"]
    assert worker.daphne_argv(5, options) == ["--fd", "5", *options, worker.ASGI_APPLICATION]


def test_the_worker_reads_its_arguments_and_daphnes():
    args = worker.parse_worker_args(
        ["--listen-fd", "3", "--ready-fd", "4", "--supervisor", "42", "--", "-v", "2"]
    )
    assert (args.listen_fd, args.ready_fd, args.supervisor) == (3, 4, 42)
    assert args.daphne_args == ["-v", "2"]


def _pipe() -> tuple[int, int]:
    read, write = os.pipe()
    os.set_blocking(read, False)
    return read, write


@dataclass
class Started:
    pid: int = 7


def test_a_worker_is_ready_once_it_says_so_on_its_pipe():
    read, write = _pipe()
    process = WorkerProcess(Started(), read)
    assert not process.is_ready()
    worker.say_ready(write)  # what the worker does once Twisted runs
    assert process.is_ready()
    assert process.is_ready()  # and stays so
    process.close()


def test_a_worker_that_exits_without_saying_so_is_never_ready():
    read, write = _pipe()
    process = WorkerProcess(Started(), read)
    os.close(write)  # it exited
    assert not process.is_ready()
    assert not process.is_ready()
    process.close()  # closing twice is fine


def test_a_worker_whose_supervisor_is_gone_does_not_start(monkeypatch):
    # Not for this test process: its parent's death is no reason to stop it.
    monkeypatch.setattr(worker, "signal_me_when_my_parent_dies", lambda: None)
    with pytest.raises(SystemExit, match="supervisor has gone"):
        worker.follow_supervisor(os.getppid() + 1)


async def test_the_worker_sends_the_application_lifespan_shutdown():
    seen, sent = [], []

    async def application(scope, receive, send):
        seen.append((scope["type"], (await receive())["type"]))
        await send({"type": "lifespan.shutdown.complete"})
        sent.append("complete")

    await worker.send_lifespan_shutdown(application)
    assert seen == [("lifespan", "lifespan.shutdown")]
    assert sent == ["complete"]


# --- restarts ---------------------------------------------------------------------------


def test_restart_delays_double_while_a_worker_dies_young_up_to_the_longest():
    backoff = RestartBackoff(first=1, longest=30, stable_after=60)
    assert [backoff.delay_after(lived=2) for _ in range(7)] == [1, 2, 4, 8, 16, 30, 30]


def test_a_worker_that_served_a_while_is_restarted_quickly_again():
    backoff = RestartBackoff(first=1, longest=30, stable_after=60)
    for _ in range(4):
        backoff.delay_after(lived=1)
    assert backoff.delay_after(lived=60) == 1
    assert backoff.delay_after(lived=3) == 2


def test_exits_are_described_by_code_or_signal():
    assert describe_exit(3) == "exited with code 3"
    assert describe_exit(-signal.SIGKILL) == "was killed by SIGKILL"


# --- the supervisor, on fakes ---------------------------------------------------------------


@dataclass
class ManualClock:
    now: float = 1000.0

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds


@dataclass
class FakeSocket:
    number: int
    closed: bool = False
    # The backlog it was listened on with by the supervisor, if it was.
    backlog: int | None = None

    def listen(self, backlog: int) -> None:
        self.backlog = backlog

    def close(self) -> None:
        self.closed = True


@dataclass
class FakeProcess:
    pid: int
    sock: FakeSocket
    returncode: int | None = None
    # Whether it exits when sent a signal (a stuck worker does not).
    obeys: bool = True
    signals: list[int] = field(default_factory=list)
    ready: bool = False
    closed: bool = False

    def poll(self) -> int | None:
        return self.returncode

    def send_signal(self, sig: int) -> None:
        self.signals.append(sig)
        if self.obeys:
            self.returncode = -sig

    def kill(self) -> None:
        self.returncode = -signal.SIGKILL

    def wait(self, timeout: float | None = None) -> int:
        assert self.returncode is not None
        return self.returncode

    def is_ready(self) -> bool:
        return self.ready

    def close(self) -> None:
        self.closed = True

    def becomes_ready(self) -> None:
        self.ready = True


class Workers:
    """A supervisor on fakes, and every socket and process it made."""

    def __init__(self, count: int) -> None:
        self.clock = ManualClock()
        self.sockets: list[FakeSocket] = []
        self.processes: list[FakeProcess] = []
        self.supervisor = Supervisor(
            count,
            new_socket=self._new_socket,
            spawn=self._spawn,
            clock=self.clock,
        )

    def _new_socket(self) -> FakeSocket:
        self.sockets.append(FakeSocket(len(self.sockets)))
        return self.sockets[-1]

    def _spawn(self, sock: FakeSocket) -> FakeProcess:
        self.processes.append(FakeProcess(100 + len(self.processes), sock))
        return self.processes[-1]

    def start_ready(self) -> None:
        self.supervisor.start()
        for process in self.processes:
            process.becomes_ready()
        self.supervisor.step()

    def after(self, seconds: float) -> None:
        self.clock.now += seconds
        self.supervisor.step()

    def alive(self) -> list[int]:
        return [p.pid for p in self.processes if p.returncode is None]


def test_each_worker_starts_on_a_socket_of_its_own():
    workers = Workers(3)
    workers.start_ready()
    assert [p.sock for p in workers.processes] == workers.sockets
    assert len(set(map(id, workers.sockets))) == 3
    assert all(slot.current.ready for slot in workers.supervisor.slots)


def test_while_no_worker_serves_new_sockets_queue_connections_at_once():
    workers = Workers(2)
    workers.supervisor.start()
    # Both load for seconds; meanwhile the pages' connections wait instead of being refused.
    assert [sock.backlog for sock in workers.sockets] == [LISTEN_BACKLOG, LISTEN_BACKLOG]


def _first_worker_dies_and_is_restarted(workers: Workers) -> None:
    workers.start_ready()
    workers.clock.now += 5
    workers.processes[0].returncode = 1
    workers.supervisor.step()
    workers.after(1)  # the first restart delay


def test_a_worker_started_while_another_serves_listens_only_once_loaded():
    workers = Workers(2)
    _first_worker_dies_and_is_restarted(workers)  # the other one serves meanwhile
    assert workers.sockets[2].backlog is None
    workers.supervisor.replace_all()  # SIGHUP: the old workers serve meanwhile
    assert workers.sockets[3].backlog is None


def test_a_lone_worker_that_died_is_restarted_on_a_socket_that_queues_at_once():
    workers = Workers(1)
    _first_worker_dies_and_is_restarted(workers)
    assert workers.sockets[1].backlog == LISTEN_BACKLOG


def test_a_supervisor_that_starts_queues_real_connections_for_its_workers():
    address = reserve(LOOPBACK, 0)
    sockets = []

    def new_socket():
        sockets.append(worker_socket(address))
        return sockets[-1]

    supervisor = Supervisor(1, new_socket=new_socket, spawn=lambda sock: FakeProcess(100, sock))
    try:
        supervisor.start()
        # No worker process runs, yet the connection is taken: it waits to be accepted.
        with socket.create_connection((LOOPBACK, address.port), timeout=5):
            pass
    finally:
        for sock in sockets:
            sock.close()


def test_a_worker_that_dies_is_restarted_on_a_fresh_socket_after_the_backoff():
    workers = Workers(2)
    workers.start_ready()
    first = workers.processes[0]
    workers.clock.now += 5  # it served for 5 s: young, so the first delay (1 s)
    first.returncode = 1
    workers.supervisor.step()
    assert first.sock.closed  # the kernel sends new connections to the other worker
    assert workers.alive() == [101]
    workers.after(0.9)
    assert workers.alive() == [101]
    workers.after(0.1)
    restarted = workers.processes[2]
    assert workers.alive() == [101, restarted.pid]
    assert restarted.sock is workers.sockets[2]
    # Dying young again doubles the wait.
    restarted.becomes_ready()
    workers.after(1)
    restarted.returncode = -signal.SIGSEGV
    workers.supervisor.step()
    workers.after(1.9)
    assert len(workers.processes) == 3
    workers.after(0.1)
    assert len(workers.processes) == 4


def test_a_worker_that_dies_before_it_was_ever_ready_stops_the_supervisor():
    workers = Workers(2)
    workers.supervisor.start()
    workers.processes[1].becomes_ready()
    workers.processes[0].returncode = 1
    with pytest.raises(WorkerFailed, match=r"worker 1 \(pid 100\) exited with code 1 before"):
        workers.supervisor.step()


def test_run_stops_every_worker_on_sigterm_and_exits_zero():
    workers = Workers(2)
    inbox = SignalInbox()

    def sleep(seconds: float) -> None:
        for process in workers.processes:
            process.becomes_ready()
        workers.clock.sleep(seconds)
        inbox.receive(signal.SIGTERM)

    assert workers.supervisor.run(inbox, sleep=sleep) == 0
    assert [p.signals for p in workers.processes] == [[signal.SIGTERM], [signal.SIGTERM]]
    assert all(sock.closed for sock in workers.sockets)


def test_sigint_is_passed_on_as_sigint():
    workers = Workers(1)
    inbox = SignalInbox()
    inbox.receive(signal.SIGINT)
    assert workers.supervisor.run(inbox, sleep=workers.clock.sleep) == 0
    assert workers.processes[0].signals == [signal.SIGINT]


def test_run_exits_non_zero_when_a_worker_cannot_start():
    workers = Workers(2)

    def sleep(seconds: float) -> None:
        workers.processes[0].returncode = 1

    assert workers.supervisor.run(SignalInbox(), sleep=sleep) == EXIT_WORKER_FAILED
    assert workers.alive() == []  # the other one was stopped


def test_a_worker_that_ignores_sigterm_is_killed_after_the_stop_timeout():
    workers = Workers(2)
    workers.start_ready()
    stuck = workers.processes[1]
    stuck.obeys = False
    workers.supervisor.stop(sleep=workers.clock.sleep, timeout=STOP_SECONDS)
    assert stuck.signals == [signal.SIGTERM]
    assert stuck.returncode == -signal.SIGKILL
    assert workers.clock.now >= 1000 + STOP_SECONDS


def test_sighup_replaces_the_workers_together_keeping_the_port_served():
    workers = Workers(2)
    workers.start_ready()
    old = list(workers.processes)
    workers.supervisor.replace_all()
    workers.after(0.1)
    new_first, new_second = workers.processes[2:]  # a new worker beside each old one
    workers.after(3)
    assert workers.alive() == [100, 101, 102, 103]  # the old ones serve until the new listen
    new_first.becomes_ready()
    workers.after(0.1)
    assert old[0].signals == old[1].signals == []  # not before every new one is ready
    old[1].obeys = False  # still closing its chat sockets after the signal
    new_second.becomes_ready()
    workers.after(0.1)
    # Not SIGTERM: told it was replaced, each closes its chat sockets at a pace (drain.py).
    assert old[0].signals == old[1].signals == [REPLACED_SIGNAL]
    assert workers.alive() == [101, 102, 103]
    # Closed with the signal: the kernel queues no more connections on it meanwhile.
    assert old[0].sock.closed and old[1].sock.closed
    assert [slot.current.process for slot in workers.supervisor.slots] == [new_first, new_second]


def test_a_second_sighup_while_replacing_starts_no_more_workers():
    workers = Workers(2)
    workers.start_ready()
    workers.supervisor.replace_all()
    workers.after(0.1)
    workers.supervisor.replace_all()
    workers.after(0.1)
    assert len(workers.processes) == 4


def test_sighup_before_any_worker_serves_replaces_nothing_and_says_so(caplog):
    workers = Workers(2)
    workers.supervisor.start()  # started, not yet ready: they load the new code anyway
    with caplog.at_level(logging.INFO, logger="tutor.serve"):
        workers.supervisor.replace_all()
    workers.after(0.1)
    assert len(workers.processes) == 2
    assert "nothing to replace" in caplog.text
    assert "replacing" not in caplog.text


def test_sighup_while_one_worker_still_starts_replaces_the_one_that_serves(caplog):
    workers = Workers(2)
    workers.supervisor.start()
    workers.processes[1].becomes_ready()
    workers.supervisor.step()
    with caplog.at_level(logging.INFO, logger="tutor.serve"):
        workers.supervisor.replace_all()
    workers.after(0.1)
    assert len(workers.processes) == 3  # a successor for the serving one only
    assert "replacing 1 serving worker" in caplog.messages


def test_replacing_stops_when_a_new_worker_cannot_start_and_the_old_ones_serve_on():
    workers = Workers(2)
    workers.start_ready()
    workers.supervisor.replace_all()
    workers.after(0.1)
    failed, other = workers.processes[2:]
    other.becomes_ready()
    failed.returncode = 1
    workers.after(0.1)
    workers.after(0.1)
    assert len(workers.processes) == 4  # no second attempt
    assert other.signals == [signal.SIGTERM]  # the other new one is stopped
    assert workers.alive() == [100, 101]
    assert failed.sock.closed and other.sock.closed
    assert [p.signals for p in workers.processes[:2]] == [[], []]


# In a process of its own: Twisted's asyncio reactor, installed once per process, is
# Daphne's; this test process must not install it.
STOP_LISTENING_SCRIPT = """
import socket, sys
from twisted.internet import asyncioreactor
asyncioreactor.install()
from twisted.internet import protocol, reactor
from tutor_project.serve.worker import stop_listening

port = reactor.listenTCP(0, protocol.Factory.forProtocol(protocol.Protocol), interface="127.0.0.1")
address = ("127.0.0.1", port.getHost().port)

def check():
    socket.create_connection(address, timeout=2).close()  # it listens
    stop_listening()
    reactor.callLater(0.1, refused)

def refused():
    try:
        socket.create_connection(address, timeout=2).close()
        print("still listening")
    except ConnectionRefusedError:
        print("refused")
    reactor.stop()

reactor.callWhenRunning(check)
reactor.run()
"""


def test_a_stopping_worker_closes_its_listening_socket_first():
    result = subprocess.run(  # noqa: S603 - this interpreter, a fixed script
        [sys.executable, "-c", STOP_LISTENING_SCRIPT],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.stdout.strip() == "refused", result.stderr
