"""Pure arithmetic over what a phase recorded: turns in, one row of figures out.

Kept free of I/O so that tutor_project/tests/test_load_bench_stats.py can check it.
"""

from __future__ import annotations

import itertools
import statistics
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from bench.load.config import WORD


def percentile(values: list[float], share: float) -> float | None:
    """The nearest-rank percentile (``share`` 0.5 is the median); None for no values."""
    if not values:
        return None
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]


@dataclass
class Turn:
    """One turn as a client saw it: when it asked, when each distinct word arrived."""

    sent_at: float
    first_text_at: float | None = None
    # word number -> arrival time (a coalesced frame gives its words one time)
    words: dict[int, float] = field(default_factory=dict)
    # text frames (direct LiteLLM: chunks) that brought them
    frames: int = 0
    error: str | None = None

    def add_text(self, content: str, arrived_at: float) -> None:
        self.frames += 1
        if self.first_text_at is None:
            self.first_text_at = arrived_at
        for match in WORD.finditer(content):
            self.words.setdefault(int(match[1]), arrived_at)

    @property
    def ttft(self) -> float | None:
        return None if self.first_text_at is None else self.first_text_at - self.sent_at

    def gaps(self) -> list[float]:
        """Seconds between each word and the one before it, in arrival order."""
        times = sorted(self.words.values())
        return [later - earlier for earlier, later in itertools.pairwise(times)]


def summarize(
    turns: list[Turn],
    window: tuple[float, float],
    cpu_seconds: float | None,
    expected_words: int,
    cpu_over_every_turn: bool = False,
) -> dict[str, Any]:
    """One phase's figures. TTFT and gaps over every turn; chunks per second over the
    words that arrived inside ``window`` (when every learner was busy); CPU per chunk over
    those words too, or, with ``cpu_over_every_turn`` (``cpu_seconds`` spent on every turn
    from start to end), over every word."""
    ttfts = [turn.ttft for turn in turns if turn.ttft is not None]
    gaps = [gap for turn in turns for gap in turn.gaps()]
    streams = [
        (max(turn.words.values()) - min(turn.words.values())) / (len(turn.words) - 1)
        for turn in turns
        if len(turn.words) > 1
    ]
    start, end = window
    in_window = sum(start <= t < end for turn in turns for t in turn.words.values())
    counted = sum(len(turn.words) for turn in turns) if cpu_over_every_turn else in_window
    framed = [turn.frames for turn in turns if turn.words]
    errors = Counter(turn.error for turn in turns if turn.error)
    lost = sum(expected_words - len(turn.words) for turn in turns if not turn.error)
    return {
        "turns": len(turns),
        "ttft_p50": percentile(ttfts, 0.5),
        "ttft_p95": percentile(ttfts, 0.95),
        "gap_mean": statistics.fmean(streams) if streams else None,
        "gap_p95": percentile(gaps, 0.95),
        "frames_per_turn": statistics.fmean(framed) if framed else None,
        "chunks_per_second": in_window / (end - start) if end > start else None,
        "cpu_per_chunk": cpu_seconds / counted if cpu_seconds is not None and counted else None,
        "errors": sum(errors.values()),
        "error_kinds": dict(errors),
        "lost_chunks": lost,
    }


def ratio(numerator: float | None, denominator: float | None) -> float | None:
    if numerator is None or not denominator:
        return None
    return numerator / denominator
