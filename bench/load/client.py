"""The WebSocket load client: learners on /ws/lessons/<slug>/chat/, in a process of its own.

Driven over stdin/stdout (bench/load/pipe.py):

- ``turns``: c learners (``cookies``), split evenly over the servers (``targets``), each
  running turns back to back for ``seconds``; TTFT is from sending the ``message`` frame
  to the first ``text`` frame. CPU per chunk is the servers' (``pids``) over the window;
  ``steady_limit``: a steady phase, whose window starts once every learner's first turn has
  ended (bench/load/phase.py). ``harness_pids``: processes (the fake provider) whose CPU is
  counted with the client's own in the same window, as what the measuring costs.
- ``idle_open`` / ``idle_reconnected`` / ``idle_close``: sockets that only hold a
  conversation open (bench/load/idle.py).
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
import time
from typing import Any

import aiohttp

from bench.load import idle
from bench.load.config import CONNECT_CONCURRENCY, RECEIVE_TIMEOUT_SECONDS, raise_file_limit
from bench.load.phase import cpu_of, run_phase
from bench.load.pipe import serve
from bench.load.sockets import new_browser, open_chat
from bench.load.stats import Turn

TURN_ENDS = ("done", "error")
# Turn errors that leave the socket unusable; the learner waits this long, then reopens.
SOCKET_FAILURES = frozenset({"connect", "closed", "timeout"})
RETRY_SECONDS = 1.0


async def _receive_turn(chat: aiohttp.ClientWebSocketResponse, turn: Turn) -> None:
    while True:
        message = await chat.receive(timeout=RECEIVE_TIMEOUT_SECONDS)
        if message.type != aiohttp.WSMsgType.TEXT:
            turn.error = "closed"
            return
        frame = json.loads(message.data)
        kind = frame.get("type")
        if kind == "text":
            turn.add_text(frame.get("content", ""), time.monotonic())
        elif kind == "error":
            turn.error = frame.get("code") or "error"
            return
        elif kind in TURN_ENDS:
            return


class Learners:
    """One socket per learner, reopened before a turn if the server closed it."""

    def __init__(self, browser: aiohttp.ClientSession, targets: list[str], cookies: list[str]):
        self.browser = browser
        self.places = [(targets[n % len(targets)], cookie) for n, cookie in enumerate(cookies)]
        self.chats: list[aiohttp.ClientWebSocketResponse | None] = [None] * len(cookies)
        self.gate = asyncio.Semaphore(CONNECT_CONCURRENCY)

    async def open(self, learner: int) -> aiohttp.ClientWebSocketResponse | None:
        async with self.gate:
            try:
                self.chats[learner], _ = await open_chat(self.browser, *self.places[learner])
            except (aiohttp.ClientError, TimeoutError, ValueError) as error:
                print(f"  learner {learner}: no socket ({error})", file=sys.stderr)
                self.chats[learner] = None
        return self.chats[learner]

    async def turn(self, learner: int, number: int) -> Turn:
        chat = self.chats[learner]
        if chat is None or chat.closed:
            chat = await self.open(learner)
        turn = Turn(sent_at=time.monotonic())
        if chat is None:
            turn.error = "connect"
        else:
            try:
                await chat.send_str(
                    json.dumps({"type": "message", "content": f"Question {number}"})
                )
                await _receive_turn(chat, turn)
            except TimeoutError:
                turn.error = "timeout"
            except aiohttp.ClientError:
                turn.error = "closed"
        if turn.error in SOCKET_FAILURES:
            # Like a browser: drop the socket, wait, open a new one for the next turn.
            if chat is not None:
                await chat.close()
            self.chats[learner] = None
            await asyncio.sleep(RETRY_SECONDS)
        return turn

    async def close(self) -> None:
        await asyncio.gather(*(chat.close() for chat in self.chats if chat is not None))


async def turns(request: dict[str, Any]) -> dict[str, Any]:
    async with new_browser() as browser:
        learners = Learners(browser, request["targets"], request["cookies"][: request["c"]])
        opened = await asyncio.gather(*(learners.open(n) for n in range(request["c"])))
        try:
            summary = await run_phase(
                request["c"],
                request["seconds"],
                learners.turn,
                cpu_of(request["pids"]),
                steady_limit=request.get("steady_limit"),
                harness_cpu=cpu_of([os.getpid(), *request.get("harness_pids", ())]),
            )
        finally:
            await learners.close()
    summary["unopened"] = sum(chat is None for chat in opened)
    return summary


def main() -> None:
    raise_file_limit()
    print("load client ready", file=sys.stderr)
    asyncio.run(
        serve(
            {
                "turns": turns,
                "idle_open": idle.open_sockets,
                "idle_reconnected": idle.reconnected,
                "idle_close": idle.close_sockets,
            }
        )
    )


if __name__ == "__main__":
    main()
