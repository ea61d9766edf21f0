"""Benchmarks: `make bench` prints a table of timings and memory, never asserts on them.

Each row runs one operation many times and reports the median time per call and the peak
memory traced while it ran. Compare rows from the same run: this machine's timings are noisy.
A second table (bench/served.py) measures the served chat path on each turn engine.
"""

from __future__ import annotations

import asyncio
import os
import statistics
import sys
import time
import tracemalloc
from collections.abc import Awaitable, Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tutor_project.settings")
os.environ.setdefault("DEBUG", "1")
os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")

import django
import litellm

django.setup()

import served  # noqa: E402 - bench/served.py, beside this file

from lessons_app.content import cut_excerpt, cut_transcript  # noqa: E402
from lessons_app.models import Lesson, Stage  # noqa: E402
from lessons_app.prompts import build_model_messages, build_system_prompt  # noqa: E402
from lessons_app.rendering import render_markdown  # noqa: E402
from llm_app.llm import stream_chat  # noqa: E402
from llm_app.providers import DEMO_MODEL, ResolvedProvider  # noqa: E402
from llm_app.testing import FakeAnthropicServer, FakeGeminiServer, FakeOpenAIServer, Reply  # noqa: E402

ARTICLE = "\n\n".join(
    f"## Section {n}\n\nParagraph {n} explains “retrieval practice” and *spacing* in detail. "
    "Learners who explain ideas in their own words remember them longer." * 3
    for n in range(200)
)
TRANSCRIPT = "WEBVTT\n\n" + "\n\n".join(
    f"00:{n // 60:02d}:{n % 60:02d}.000 --> 00:{(n + 1) // 60:02d}:{(n + 1) % 60:02d}.000\n"
    f"Cue number {n} of the talk."
    for n in range(0, 3000, 1)
    if n < 3599
)
HISTORY = [
    {"role": role, "content": f"message {n}"}
    for n, role in enumerate(["system", "user", "assistant", "user"] * 50)
]
REPLY_TEXT = " ".join(f"word{n}" for n in range(200))


def measure(fn: Callable[[], object], repeat: int) -> tuple[float, float]:
    """Median seconds per call (untraced) and peak MiB traced during one more call."""
    fn()  # warm up
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        fn()
        times.append(time.perf_counter() - started)
    tracemalloc.start()
    fn()
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return statistics.median(times), peak / 2**20


def run_async(factory: Callable[[], Awaitable[object]]) -> Callable[[], object]:
    return lambda: asyncio.run(factory())


async def drain(provider: ResolvedProvider) -> None:
    async for _ in stream_chat([{"role": "user", "content": "Hi"}], "Be brief.", provider=provider):
        pass


async def drain_direct(provider: ResolvedProvider) -> None:
    """The same reply straight from ``litellm.acompletion``: what the seam is measured against."""
    response = await litellm.acompletion(
        model=provider.model,
        messages=[
            {"role": "system", "content": "Be brief."},
            {"role": "user", "content": "Hi"},
        ],
        api_base=provider.api_base,
        api_key=provider.api_key,
        max_tokens=1024,
        stream=True,
        stream_options={"include_usage": True},
    )
    async for _ in response:
        pass


def stage() -> Stage:
    lesson = Lesson(title="Bench", slug="bench")
    return Stage(lesson=lesson, kind=Stage.Kind.ARTICLE, title="Long read", body=ARTICLE)


def main() -> None:
    rows: list[tuple[str, float, float, float | None]] = []

    def row(
        name: str, fn: Callable[[], object], repeat: int = 20, baseline: float | None = None
    ) -> float:
        seconds, mib = measure(fn, repeat)
        rows.append((name, seconds * 1000, mib, seconds / baseline if baseline else None))
        print(f"  measured {name}", file=sys.stderr)
        return seconds

    row(
        "cut_excerpt, 200-section article", lambda: cut_excerpt(ARTICLE, "Section 50", "Section 60")
    )
    row("cut_transcript, 3000 cues", lambda: cut_transcript(TRANSCRIPT, 600, 1200), repeat=5)
    row("render_markdown, 200-section article", lambda: render_markdown(ARTICLE), repeat=5)
    row("build_system_prompt, long article", lambda: build_system_prompt(stage(), ARTICLE[:20000]))
    row("build_model_messages, 200 messages", lambda: build_model_messages(HISTORY))

    demo = ResolvedProvider(model=DEMO_MODEL, extra_params={"word_delay": 0})
    row("stream_chat, demo provider", run_async(lambda: drain(demo)), repeat=10)
    for server_class, model in (
        (FakeAnthropicServer, "anthropic/claude-sonnet-4-20250514"),
        (FakeGeminiServer, "gemini/gemini-2.5-flash"),
        (FakeOpenAIServer, "openai/gpt-4o-mini"),
    ):
        with server_class() as server:
            server.default_reply = Reply.text(REPLY_TEXT, chunks=200)
            provider = ResolvedProvider(model=model, api_base=server.url, api_key="bench-key")
            direct = row(
                f"litellm.acompletion, 200 chunks, {server.kind} fake",
                run_async(lambda provider=provider: drain_direct(provider)),
                repeat=10,
            )
            row(
                f"stream_chat, 200 chunks, {server.kind} fake",
                run_async(lambda provider=provider: drain(provider)),
                repeat=10,
                baseline=direct,
            )

    served_results = served.measure()

    width = max(len(name) for name, *_ in rows)
    ratio_heading = "x direct LiteLLM"
    print(f"\n{'benchmark':<{width}}  {'median ms':>10}  {'peak MiB':>9}  {ratio_heading}")
    print(f"{'-' * width}  {'-' * 10}  {'-' * 9}  {'-' * len(ratio_heading)}")
    for name, ms, mib, ratio in rows:
        shown = f"{ratio:.2f}" if ratio is not None else ""
        print(f"{name:<{width}}  {ms:>10.2f}  {mib:>9.2f}  {shown:>{len(ratio_heading)}}")
    print(served.table(served_results))


if __name__ == "__main__":
    main()
