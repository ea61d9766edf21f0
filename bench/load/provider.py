"""The fake provider's process, seen from the orchestrator: started, reset, stopped."""

from __future__ import annotations

import subprocess
import sys
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from bench.load.config import ROOT
from bench.load.fake_provider import READY_LINE
from bench.load.servers import before_exec, free_port

RESET_PATH = "/_fake/reset"


@dataclass(frozen=True)
class Provider:
    api_base: str
    root: str
    pid: int

    def reset(self) -> None:
        """Forget the requests recorded so far (their bodies add up over thousands)."""
        request = urllib.request.Request(f"{self.root}{RESET_PATH}", method="POST")  # noqa: S310
        with urllib.request.urlopen(request, timeout=10):  # noqa: S310 - http to loopback
            pass


@contextmanager
def fake_provider(env: dict[str, str]) -> Iterator[Provider]:
    """``python -m bench.load.fake_provider`` on a free port, until the block ends."""
    process = subprocess.Popen(  # noqa: S603 - our own module
        [sys.executable, "-m", "bench.load.fake_provider", str(free_port())],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        text=True,
        preexec_fn=before_exec,
    )
    try:
        ready, api_base = process.stdout.readline().split()
        if ready != READY_LINE:
            raise RuntimeError(f"the fake provider said {ready!r}")
        yield Provider(api_base, api_base.removesuffix("/v1"), process.pid)
    finally:
        process.terminate()
        process.wait(timeout=30)
