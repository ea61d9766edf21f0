"""A replaced worker closing its chat sockets at a pace (tutor_project.serve.drain), on
Twisted's manual clock: which sockets, with which code, how many at each moment."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
from daphne.ws_protocol import WebSocketProtocol
from twisted.internet import task

from tutor_project.serve.drain import (
    ANSWER_SECONDS,
    BATCH_SECONDS,
    LONGEST_SECONDS,
    SERVICE_RESTART,
    drain,
    open_chat_sockets,
    per_batch,
)


class ChatSocket(WebSocketProtocol):
    """Daphne's protocol, its close recorded instead of sent (no transport); its page
    answers the close at once unless ``answers`` is false."""

    def __init__(
        self, clock: task.Clock, state: int = WebSocketProtocol.STATE_OPEN, *, answers=True
    ) -> None:
        super().__init__()
        self.clock, self.state, self.answers = clock, state, answers
        self.closed_with: tuple[int, float] | None = None

    def sendCloseFrame(self, code=None, reasonUtf8=None, isReply=False):
        self.closed_with = (code, self.clock.seconds())
        self.state = self.STATE_CLOSED if self.answers else self.STATE_CLOSING


def test_sockets_are_closed_with_service_restart_at_the_pace_asked_for():
    clock = task.Clock()
    sockets = [ChatSocket(clock) for _ in range(100)]
    finished = drain(sockets, per_second=200, scheduler=clock)

    # 200 a second in batches every 50 ms: 10 now, then 10 every 50 ms.
    assert sum(s.closed_with is not None for s in sockets) == 10
    assert not finished.called
    clock.advance(BATCH_SECONDS)
    assert sum(s.closed_with is not None for s in sockets) == 20
    clock.pump([BATCH_SECONDS] * 8)
    assert finished.called
    assert {code for code, _ in (s.closed_with for s in sockets)} == {SERVICE_RESTART}
    last_closed_at = max(at for _, at in (s.closed_with for s in sockets))
    assert last_closed_at == pytest.approx(9 * BATCH_SECONDS)  # 100 at 200 a second: 0.45 s


def test_a_socket_that_closed_meanwhile_is_left_alone():
    clock = task.Clock()
    first, gone = ChatSocket(clock), ChatSocket(clock)
    drain([first, *[ChatSocket(clock) for _ in range(9)], gone], per_second=200, scheduler=clock)
    gone.state = gone.STATE_CLOSED  # its page left before its turn came
    clock.advance(BATCH_SECONDS)
    assert first.closed_with == (SERVICE_RESTART, 0)
    assert gone.closed_with is None


def test_a_socket_that_fails_to_close_does_not_stop_the_others(caplog):
    clock = task.Clock()
    broken = ChatSocket(clock)
    broken.sendCloseFrame = lambda **kwargs: 1 / 0
    others = [ChatSocket(clock) for _ in range(3)]
    finished = drain([broken, *others], per_second=200, scheduler=clock)
    clock.pump([BATCH_SECONDS] * round(ANSWER_SECONDS / BATCH_SECONDS + 1))
    assert all(s.closed_with == (SERVICE_RESTART, 0) for s in others)
    assert finished.called
    assert "Closing a chat socket failed" in caplog.text


def test_the_drain_goes_faster_than_asked_rather_than_take_longer_than_its_limit():
    assert per_batch(100, per_second=200) == 10
    # 20,000 sockets at 200 a second would take 100 s: the pace becomes 2,000 a second.
    assert per_batch(20_000, per_second=200) == 2_000 * BATCH_SECONDS
    assert 20_000 / per_batch(20_000, per_second=200) * BATCH_SECONDS <= LONGEST_SECONDS


def test_the_worker_waits_for_the_pages_to_answer_but_not_for_ever():
    clock = task.Clock()
    answering, silent = ChatSocket(clock), ChatSocket(clock, answers=False)
    finished = drain([answering, silent], per_second=200, scheduler=clock)
    assert silent.closed_with == (SERVICE_RESTART, 0)
    clock.pump([BATCH_SECONDS] * round(ANSWER_SECONDS / BATCH_SECONDS - 1))
    assert not finished.called  # a close frame sent is not a socket closed
    clock.pump([BATCH_SECONDS] * 2)
    assert finished.called


def test_a_pace_of_zero_closes_every_socket_at_once():
    clock = task.Clock()
    sockets = [ChatSocket(clock) for _ in range(500)]
    assert drain(sockets, per_second=0, scheduler=clock).called
    assert all(s.closed_with == (SERVICE_RESTART, 0) for s in sockets)


def test_nothing_to_drain_is_done_at_once():
    assert drain([], per_second=200, scheduler=task.Clock()).called


def test_only_open_websockets_are_chat_sockets_to_close():
    clock = task.Clock()
    open_socket = ChatSocket(clock)
    connecting = ChatSocket(clock, state=WebSocketProtocol.STATE_CONNECTING)
    readers = [
        SimpleNamespace(protocol=open_socket),
        SimpleNamespace(protocol=connecting),
        SimpleNamespace(protocol=object()),  # an HTTP request, say
        SimpleNamespace(),  # the listening port has no protocol
    ]
    assert open_chat_sockets(readers) == [open_socket]
