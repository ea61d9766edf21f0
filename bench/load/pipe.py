"""Requests and answers as JSON lines over a child process's stdin and stdout.

The load client and the direct LiteLLM client are long-lived processes (LiteLLM takes
seconds to import), driven by the orchestrator one request at a time: ``{"op": ...}`` in,
one JSON object out. Their progress and errors go to stderr.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from collections.abc import Awaitable, Callable
from typing import Any

from bench.load.config import ROOT

Handler = Callable[[dict[str, Any]], Awaitable[dict[str, Any]]]
QUIT = "quit"


async def serve(handlers: dict[str, Handler]) -> None:
    """Answer requests from stdin until ``quit`` or end of input.

    The answers get stdout to themselves: anything else printed there (a library's
    notice) would break the protocol, so file descriptor 1 is pointed at stderr.
    """
    answers = os.fdopen(os.dup(sys.stdout.fileno()), "w")
    os.dup2(sys.stderr.fileno(), sys.stdout.fileno())
    while True:
        line = await asyncio.to_thread(sys.stdin.readline)
        if not line:
            return
        request = json.loads(line)
        if request["op"] == QUIT:
            return
        try:
            answer = await handlers[request["op"]](request)
        except Exception as error:  # noqa: BLE001 - reported to the orchestrator, which goes on
            answer = {"failed": f"{type(error).__name__}: {error}"}
        answers.write(json.dumps(answer) + "\n")
        answers.flush()


class Child:
    """A child process answering JSON requests: ``python -m <module>`` in ``env``."""

    def __init__(self, module: str, env: dict[str, str]) -> None:
        self.module = module
        self.process = subprocess.Popen(  # noqa: S603 - our own module
            [sys.executable, "-m", module],
            cwd=ROOT,
            env=env,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )

    def call(self, op: str, **fields: Any) -> dict[str, Any]:
        self.process.stdin.write(json.dumps({"op": op, **fields}) + "\n")
        self.process.stdin.flush()
        line = self.process.stdout.readline()
        if not line:
            raise RuntimeError(f"{self.module} exited ({self.process.wait()}) during {op}")
        return json.loads(line)

    def close(self) -> None:
        if self.process.poll() is None:
            try:
                self.process.stdin.write(json.dumps({"op": QUIT}) + "\n")
                self.process.stdin.close()
                self.process.wait(timeout=30)
            except (BrokenPipeError, subprocess.TimeoutExpired):
                self.process.kill()
                self.process.wait()
