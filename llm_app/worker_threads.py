"""How many threads LiteLLM's own CPU work may use at once in this event loop.

LiteLLM hands some work to anyio's worker threads (``asyncify``, that is
``anyio.to_thread.run_sync``): above all, at the end of every streamed reply it
rebuilds the whole reply from its chunks for its logging and cost (6-10 ms of CPU
for 100 chunks). That work is Python holding the GIL, so a second thread makes none
of it faster. But anyio allows 40 threads per event
loop, and under load dozens of replies end close together: their threads then take
the GIL from the event loop by turns, each for Python's switch interval, and the
loop, which streams every turn of the process, waits behind all of them. Measured
on one worker at 200 concurrent turns (bench/load, the two settings alternated, six
phases with one thread and five with 40): a median time to first token of 7.2-8.5 s
with one thread against 9.7-13.7 s with anyio's 40, for the same CPU.

What else waits its turn for that one thread: anything that calls
``anyio.to_thread.run_sync`` with anyio's default limiter, such as LiteLLM's refresh
of Vertex AI credentials (a network call, about once an hour). A deployment on Vertex
AI may want ``TUTOR_LLM_THREADS=2``, so that a refresh never holds up the end of a reply.
"""

from __future__ import annotations

import anyio.to_thread


def limit_worker_threads(threads: int) -> None:
    """Let at most ``threads`` of anyio's worker threads run at once in this event loop.

    Must run inside the event loop it is for: anyio keeps one limiter per loop. It
    bounds every ``anyio.to_thread.run_sync`` call that names no limiter of its own.
    """
    if threads < 1:
        raise ValueError(f"LiteLLM needs at least one worker thread, not {threads}")
    anyio.to_thread.current_default_thread_limiter().total_tokens = threads
