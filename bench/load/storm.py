"""A reconnect storm on one worker: `python -m bench.load.storm [SOCKETS] [ROUNDS]`.

After a restart every learner's page reconnects within moments of the others. This
opens SOCKETS chat sockets at once (no backoff, no gate) against one Daphne worker on
SQLite, ROUNDS times (the first round also starts each learner's lesson), and prints
how many opened, how many failed and why, and the seconds until the last ``history``.
The full `make bench-load` measures the restart itself, with chat.js's backoff.
"""

from __future__ import annotations

import asyncio
import json
import shutil
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

from bench.load import databases
from bench.load.config import raise_file_limit
from bench.load.servers import start_workers
from bench.load.sockets import new_browser, open_chat

DEFAULT_SOCKETS = 1000
DEFAULT_ROUNDS = 2
# No provider is called: idle sockets only.
UNUSED_API_BASE = "http://127.0.0.1:9/v1"


async def storm(base_url: str, cookies: list[str]) -> str:
    """Every socket opened at once; one line saying how it went."""
    browser = new_browser()
    started = time.monotonic()

    async def open_one(cookie: str):
        try:
            chat, _ = await open_chat(browser, base_url, cookie)
        except Exception as error:  # noqa: BLE001 - counted by kind
            return None, type(error).__name__
        return chat, time.monotonic() - started

    results = await asyncio.gather(*(open_one(cookie) for cookie in cookies))
    last = time.monotonic() - started
    opened = [chat for chat, _ in results if chat is not None]
    failures = Counter(why for chat, why in results if chat is None)
    for chat in opened:
        await chat.close()
    await browser.close()
    return (
        f"{len(cookies)} sockets at once: {len(opened)} opened, {sum(failures.values())} "
        f"failed {dict(failures) or ''}, last history after {last:.1f} s "
        f"({len(opened) / last:.0f} a second)"
    )


def main(sockets: int, rounds: int) -> None:
    raise_file_limit()
    workdir = Path(tempfile.mkdtemp(prefix="tutor-storm-"))
    deployment = databases.sqlite_deployment(workdir)
    cookies_file = workdir / "cookies.json"
    subprocess.run(  # noqa: S603 - our own module
        [sys.executable, "-m", "bench.load.setup", str(sockets), UNUSED_API_BASE, cookies_file],
        env=deployment.env,
        check=True,
        stdout=subprocess.DEVNULL,
    )
    cookies = json.loads(cookies_file.read_text())["cookies"][:sockets]
    workers = start_workers(deployment.env, 1, workdir, "storm")
    try:
        workers.wait_until_healthy()
        for number in range(1, rounds + 1):
            print(f"round {number}: {asyncio.run(storm(workers.urls[0], cookies))}", flush=True)
    finally:
        workers.stop()
        databases.clean_up(deployment)
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    arguments = [int(argument) for argument in sys.argv[1:3]]
    main(*arguments, *(DEFAULT_SOCKETS, DEFAULT_ROUNDS)[len(arguments) :])
