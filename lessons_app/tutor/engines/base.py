"""What a turn engine offers, and the per-process fan-out to sockets both engines share.

A turn's frames go into its *log*: entries numbered 1, 2, 3, ... in the order the
turn produced them, each holding the frame exactly as the browser receives it. The
runner appends; any socket of the learner, in any process, reads the log by cursor
(the last number it has), so it gets every frame once, in order, however late it
attaches. Each conversation also has a small *feed* of events ("turn 8 started",
"the stage changed") that tells its sockets what to follow.

An engine stores logs and feeds and carries stop requests and runner heartbeats
between processes; :class:`Fanout` hands what arrives to this process's sockets.
``MemoryEngine`` does it all inside one process, ``RedisEngine`` across processes
with Redis Streams. Both run the same code above them.
"""

from __future__ import annotations

import asyncio
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

from lessons_app.tutor.protocol import ServerFrame

TURN_ENDING_FRAMES = frozenset({ServerFrame.DONE.value, ServerFrame.ERROR.value})


class EngineUnavailable(Exception):
    """The engine's backend (Redis) cannot be reached; the caller decides what waits."""


@dataclass(frozen=True, slots=True)
class LogEntry:
    """One frame of a turn, as every socket will send it."""

    seq: int
    # The frame's ``type``, so readers need not parse ``frame`` to follow the turn.
    type: str
    # The frame as JSON text, ``message_id`` and ``seq`` included: encoded once, sent as is.
    frame: str
    # For ``message`` and ``reply`` frames: the id of the message they carry.
    shows: int | None = None

    @property
    def ends_turn(self) -> bool:
        return self.type in TURN_ENDING_FRAMES


@dataclass(frozen=True, slots=True)
class TurnEntries:
    """New entries of a turn this subscription follows, after its cursor, in order."""

    turn_id: int
    entries: tuple[LogEntry, ...]


@dataclass(frozen=True, slots=True)
class ConversationEvent:
    """An event of the watched conversation's feed (see ``lessons_app.tutor.events``)."""

    event: Mapping[str, Any]


@dataclass(frozen=True, slots=True)
class EngineState:
    """The engine lost (``available=False``) or regained its backend."""

    available: bool


Delivery = TurnEntries | ConversationEvent | EngineState


class Subscription:
    """One socket's view: its conversation's feed and the turns it follows, by cursor.

    What arrives waits in :attr:`queue` until the socket's session sends it on.
    """

    def __init__(self) -> None:
        self.queue: asyncio.Queue[Delivery] = asyncio.Queue()
        self.conversation_id: int | None = None
        # Turn id -> the last entry number handed to this subscription.
        self.cursors: dict[int, int] = {}


class Fanout:
    """Hands entries and events to the subscriptions that want them, each exactly once."""

    def __init__(self) -> None:
        self._subscriptions: set[Subscription] = set()
        self._by_turn: dict[int, set[Subscription]] = {}
        self._by_conversation: dict[int, set[Subscription]] = {}

    def add(self, subscription: Subscription) -> None:
        self._subscriptions.add(subscription)

    def remove(self, subscription: Subscription) -> None:
        self._subscriptions.discard(subscription)
        for turn_id in list(subscription.cursors):
            self.unfollow(subscription, turn_id)
        if subscription.conversation_id is not None:
            watchers = self._by_conversation.get(subscription.conversation_id, set())
            watchers.discard(subscription)
            if not watchers:
                self._by_conversation.pop(subscription.conversation_id, None)
            subscription.conversation_id = None

    def watch(self, subscription: Subscription, conversation_id: int) -> None:
        subscription.conversation_id = conversation_id
        self._by_conversation.setdefault(conversation_id, set()).add(subscription)

    def follow(self, subscription: Subscription, turn_id: int, after_seq: int) -> None:
        subscription.cursors[turn_id] = after_seq
        self._by_turn.setdefault(turn_id, set()).add(subscription)

    def unfollow(self, subscription: Subscription, turn_id: int) -> None:
        subscription.cursors.pop(turn_id, None)
        followers = self._by_turn.get(turn_id)
        if followers is not None:
            followers.discard(subscription)
            if not followers:
                del self._by_turn[turn_id]

    def publish_turn(self, turn_id: int, entries: Sequence[LogEntry]) -> None:
        for subscription in tuple(self._by_turn.get(turn_id, ())):
            self.deliver(subscription, turn_id, entries)

    def deliver(
        self, subscription: Subscription, turn_id: int, entries: Iterable[LogEntry]
    ) -> None:
        """Give ``subscription`` the entries that follow on from its cursor, without a gap.

        Entries that do not follow on are left for later: whoever reads the log for
        this subscription next (the reader, from its lowest cursor) brings the missing
        ones first. A turn's last entry ends following.
        """
        cursor = subscription.cursors.get(turn_id)
        if cursor is None:
            return
        following: list[LogEntry] = []
        for entry in entries:
            if entry.seq == cursor + len(following) + 1:
                following.append(entry)
        fresh = tuple(following)
        if not fresh:
            return
        subscription.cursors[turn_id] = fresh[-1].seq
        subscription.queue.put_nowait(TurnEntries(turn_id, fresh))
        if fresh[-1].ends_turn:
            self.unfollow(subscription, turn_id)

    def publish_event(self, conversation_id: int, event: Mapping[str, Any]) -> None:
        for subscription in tuple(self._by_conversation.get(conversation_id, ())):
            subscription.queue.put_nowait(ConversationEvent(event))

    def publish_state(self, available: bool) -> None:
        for subscription in tuple(self._subscriptions):
            subscription.queue.put_nowait(EngineState(available))

    def followed_turns(self) -> dict[int, int]:
        """Each followed turn and the lowest cursor on it: where a reader must read from."""
        return {
            turn_id: min(subscription.cursors[turn_id] for subscription in followers)
            for turn_id, followers in self._by_turn.items()
        }


StopHandler = Callable[[int], None]
StateHandler = Callable[[bool], None]


class TurnEngine(ABC):
    """Logs, feeds, stop requests and heartbeats for the turns of one deployment.

    Methods that reach the backend raise :class:`EngineUnavailable` when it is
    down; the subscription methods only change this process's fan-out.
    """

    name: ClassVar[str]
    # True when the engine cannot share turns between processes (the in-memory one).
    single_process: ClassVar[bool] = False

    def __init__(self, *, runner_id: str) -> None:
        self.runner_id = runner_id
        self.fanout = Fanout()
        self.available = True
        self._on_stop: StopHandler = lambda turn_id: None
        self._on_state: StateHandler = lambda available: None
        # Turns running in this process, and their entries so far (the runner's own list).
        self._running: dict[int, Sequence[LogEntry]] = {}

    @classmethod  # noqa: B027 - optional: most engines need no check
    def check_configuration(cls) -> None:
        """Raise ``ImproperlyConfigured`` if this process must not serve with this engine."""

    async def start(self, *, on_stop: StopHandler, on_state: StateHandler) -> None:
        """Begin delivering: ``on_stop(turn_id)`` for stop requests, ``on_state`` on outages."""
        self._on_stop = on_stop
        self._on_state = on_state

    async def close(self) -> None:  # noqa: B027 - optional: only some hold resources
        """Release the backend; nothing is delivered afterwards."""

    def _set_available(self, available: bool) -> None:
        if available == self.available:
            return
        self.available = available
        self._on_state(available)
        self.fanout.publish_state(available)

    @abstractmethod
    async def health(self) -> str:
        """``"ok"``, or ``"error: ..."`` naming why the backend can't be used."""

    # --- the log (written by the runner) ---

    def deliver_locally(self, turn_id: int, entries: Sequence[LogEntry]) -> None:
        """Hand new entries to this process's sockets now, before they reach the log.

        The runner's own process need not wait for the round trip through the
        backend; sockets elsewhere read them from the log. Cursors make a later copy
        from the log (or a repeat after a failed write) a no-op.
        """
        self.fanout.publish_turn(turn_id, entries)

    @abstractmethod
    async def append(
        self,
        logs: Mapping[int, Sequence[LogEntry]],
        *,
        seal: Iterable[int] = (),
        announcements: Sequence[tuple[int, Mapping[str, Any]]] = (),
    ) -> dict[int, int]:
        """Extend turns' logs, seal those that ended, then announce feed events, in order.

        Each log only ever grows by its next number: an entry it has already is
        skipped, and one that would leave a gap (the log is shorter than the writer
        thought: Redis restarted empty) is not added. The answer says, for each turn
        of ``logs``, the newest number its log now holds, so the writer sends on from
        there. A sealed log is kept for ``TUTOR_TURN_LOG_RETENTION_SECONDS``; an
        announcement is a ``(conversation id, event)`` for every socket of that
        conversation, in every process.
        """

    def running_here(self, turn_id: int, entries: Sequence[LogEntry]) -> None:
        """The turn runs in this process: its sockets are served from ``entries`` directly.

        Nothing of it need come back from the backend to this process, which saves the
        Redis engine reading its own frames; sockets elsewhere still read the log.
        """
        self._running[turn_id] = entries

    def done_here(self, turn_id: int) -> None:
        self._running.pop(turn_id, None)

    async def read(self, turn_id: int) -> list[LogEntry]:
        """Every entry of the turn so far, in order (empty if its log has none or expired)."""
        running = self._running.get(turn_id)
        if running is not None:
            return list(running)
        return await self._read_log(turn_id)

    @abstractmethod
    async def _read_log(self, turn_id: int) -> list[LogEntry]:
        """Every entry the turn's log holds, in order."""

    # --- stops and liveness ---

    @abstractmethod
    async def request_stop(self, turn_id: int) -> None:
        """Ask whichever process runs the turn to stop it."""

    @abstractmethod
    async def beat(self) -> None:
        """Say this process's runner is alive (call more often than the stale threshold)."""

    @abstractmethod
    async def alive_runners(self, runner_ids: set[str]) -> set[str]:
        """Those of ``runner_ids`` that have beaten recently."""

    # --- subscriptions (this process's sockets) ---

    def subscribe(self) -> Subscription:
        subscription = Subscription()
        self.fanout.add(subscription)
        return subscription

    def unsubscribe(self, subscription: Subscription) -> None:
        self.fanout.remove(subscription)

    def watch(self, subscription: Subscription, conversation_id: int) -> None:
        """Deliver the conversation's events from now on."""
        self.fanout.watch(subscription, conversation_id)

    def follow(self, subscription: Subscription, turn_id: int, after_seq: int) -> None:
        """Deliver the turn's entries numbered above ``after_seq``, those written already first."""
        self.fanout.follow(subscription, turn_id, after_seq)
        running = self._running.get(turn_id)
        if running is not None:
            self.fanout.deliver(subscription, turn_id, running)
        else:
            self._log_to_read(turn_id)

    def unfollow(self, subscription: Subscription, turn_id: int) -> None:
        self.fanout.unfollow(subscription, turn_id)

    def _log_to_read(self, turn_id: int) -> None:  # noqa: B027 - optional hook
        """Hook for engines whose reader must learn that a log elsewhere is to be read,
        from the lowest cursor on it. Nothing else changes what a reader reads: one
        that reads a log nobody follows any longer hands its entries to nobody."""
