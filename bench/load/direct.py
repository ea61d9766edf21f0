"""Direct LiteLLM: c concurrent ``litellm.acompletion`` streams against the same fake.

The baseline the tutor is compared with: no Django, no WebSocket, one process timing
its own streams (TTFT from the call to the first content chunk) and its own CPU.
Driven over stdin/stdout (bench/load/pipe.py): ``{"op": "turns", "c": ..., "seconds":
..., "api_base": ...}``.
"""

from __future__ import annotations

import asyncio
import os
import sys
import time
from typing import Any

import litellm

from bench.load.config import API_KEY, MODEL, RECEIVE_TIMEOUT_SECONDS, raise_file_limit
from bench.load.phase import cpu_of, run_phase
from bench.load.pipe import serve
from bench.load.stats import Turn

SYSTEM_PROMPT = "You are a patient tutor. Be brief."


async def open_stream(api_base: str, question: str) -> Any:
    """The benchmark's LiteLLM call, as both baselines make it (this client, and the bare
    consumer of bench/load/bare_app.py): LiteLLM's stream of chunks."""
    return await litellm.acompletion(
        model=MODEL,
        messages=[
            {"role": "system", "content": SYSTEM_PROMPT},
            {"role": "user", "content": question},
        ],
        api_base=api_base,
        api_key=API_KEY,
        max_tokens=1024,
        stream=True,
        stream_options={"include_usage": True},
        max_retries=0,
        timeout=RECEIVE_TIMEOUT_SECONDS,
    )


def chunk_text(chunk: Any) -> str | None:
    """A streamed chunk's text, if it carries any (the last one carries only usage)."""
    return chunk.choices[0].delta.content if chunk.choices else None


async def _turn(api_base: str, learner: int, number: int) -> Turn:
    turn = Turn(sent_at=time.monotonic())
    try:
        response = await open_stream(api_base, f"Learner {learner}, question {number}")
        async for chunk in response:
            content = chunk_text(chunk)
            if content:
                turn.add_text(content, time.monotonic())
    except Exception as error:  # noqa: BLE001 - a failed stream is counted, not fatal
        turn.error = type(error).__name__
    return turn


async def turns(request: dict[str, Any]) -> dict[str, Any]:
    api_base = request["api_base"]
    return await run_phase(
        request["c"],
        request["seconds"],
        lambda learner, number: _turn(api_base, learner, number),
        cpu_of([os.getpid()]),
    )


async def warm(request: dict[str, Any]) -> dict[str, Any]:
    """One stream, so the first measured one does not pay for LiteLLM's first-call set-up."""
    turn = await _turn(request["api_base"], 0, 0)
    return {"error": turn.error, "words": len(turn.words)}


def main() -> None:
    raise_file_limit()
    print("direct LiteLLM client ready", file=sys.stderr)
    asyncio.run(serve({"turns": turns, "warm": warm}))


if __name__ == "__main__":
    main()
