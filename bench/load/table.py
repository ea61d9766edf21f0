"""The load benchmark's printed tables: the streaming phases, then the figures to read off.

Pure formatting of bench/load/run.py's results; nothing here is measured or asserted.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

from bench.load.config import CHUNK_DELAY_SECONDS, CHUNKS, FIRST_TOKEN_DELAY_SECONDS
from bench.load.databases import POSTGRESQL
from bench.load.stats import ratio

NONE = "-"
DIRECT = "direct"
DIRECT_LABEL = "direct LiteLLM"
BARE = "bare"
BARE_LABEL = "bare consumer (the stack's floor)"
# The concurrency levels the read-offs name (issue 13's targets).
LOW, MIDDLE, HIGH = 1, 50, 200


def number(value: float | None, spec: str = ".0f", scale: float = 1.0, sign: str = "") -> str:
    if value is None:
        return NONE
    return format(value * scale, f"{sign}{spec}")


def times(value: float | None) -> str:
    return NONE if value is None else f"x{value:.2f}"


def errors(summary: dict[str, Any]) -> int:
    return summary["errors"] + summary.get("unopened", 0) + summary["lost_chunks"]


def brief(summary: dict[str, Any]) -> str:
    """One phase on one progress line."""
    if "failed" in summary:
        return f"FAILED {summary['failed']}"
    return (
        f"{summary['turns']} turns, TTFT p50 {number(summary['ttft_p50'], scale=1000)} ms "
        f"p95 {number(summary['ttft_p95'], scale=1000)} ms, "
        f"gap {number(summary['gap_mean'], '.1f', 1000)} ms, "
        f"{number(summary.get('frames_per_turn'))} frames/turn, "
        f"{number(summary['cpu_per_chunk'], scale=1e6)} µs CPU/chunk, "
        f"{number(summary['chunks_per_second'])} chunks/s, {errors(summary)} errors "
        f"{summary['error_kinds'] or ''}{_steady(summary)}"
    )


def _steady(summary: dict[str, Any]) -> str:
    """When a steady phase's window began, and how long it lasted."""
    if summary.get("steady_after") is None:
        return ""
    return f" (window from {summary['steady_after']:.0f} s, {summary['window_seconds']:.0f} s long)"


COLUMNS = (
    ("c", 4),
    ("path", 38),
    ("turns", 6),
    ("TTFT p50", 9),
    ("TTFT p95", 9),
    ("+p50", 7),
    ("+p95", 7),
    ("gap", 6),
    ("gap p95", 8),
    ("frames", 6),
    ("CPU µs/ch", 10),
    ("CPU/dir", 8),
    ("chunks/s", 9),
    ("conn/turn", 9),
    ("errors", 6),
)


def _row(cells: list[str]) -> str:
    first, *rest = ((cell, width) for cell, (_, width) in zip(cells, COLUMNS, strict=True))
    return "  ".join([f"{first[0]:>{first[1]}}"] + [f"{cell:>{width}}" for cell, width in rest])


TTFTS = ("ttft_p50", "ttft_p95")
RESTART_BACK = ("last_back_seconds", "median_back_seconds")


def _added(summary: dict[str, Any], direct: dict[str, Any], key: str) -> float | None:
    """What the tutor adds to direct LiteLLM's figure ``key`` in the same phase."""
    if summary.get(key) is None or direct.get(key) is None:
        return None
    return summary[key] - direct[key]


def _phase_row(c: int, label: str, summary: dict[str, Any], direct: dict[str, Any]) -> str:
    if "failed" in summary:
        return f"{c:>4}  {label:>29}  FAILED: {summary['failed']}"
    is_direct = summary is direct
    added = [number(_added(summary, direct, key), scale=1000, sign="+") for key in TTFTS]
    cpu_ratio = times(ratio(summary["cpu_per_chunk"], direct.get("cpu_per_chunk")))
    if is_direct:
        added, cpu_ratio = [NONE, NONE], NONE
    return _row(
        [
            str(c),
            label,
            str(summary["turns"]),
            number(summary["ttft_p50"], scale=1000),
            number(summary["ttft_p95"], scale=1000),
            *added,
            number(summary["gap_mean"], ".1f", 1000),
            number(summary["gap_p95"], ".1f", 1000),
            number(summary.get("frames_per_turn")),
            number(summary["cpu_per_chunk"], scale=1e6),
            cpu_ratio,
            number(summary["chunks_per_second"]),
            number(summary.get("connections_per_turn"), ".1f"),
            str(errors(summary)),
        ]
    )


def phases(results: dict[str, Any]) -> list[str]:
    labels = {DIRECT: DIRECT_LABEL, BARE: BARE_LABEL, **results["labels"]}
    lines = [
        _row([name for name, _ in COLUMNS]),
        _row(["-" * width for _, width in COLUMNS]),
    ]
    for c, row in results["levels"].items():
        direct = row[DIRECT] if "failed" not in row[DIRECT] else {}
        for name, summary in row.items():
            lines.append(_phase_row(c, labels[name], summary, direct))
    saturation = results["saturation"]
    if saturation:
        _, direct = _level(results, saturation["c"], POSTGRESQL)
        for key, workers in (("one", "1 worker"), ("two", "2 workers")):
            if key in saturation:
                label = f"{labels[POSTGRESQL]}, {workers}, steady"
                lines.append(_phase_row(saturation["c"], label, saturation[key], direct))
    return lines


def _level(results: dict[str, Any], c: int, name: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """The tutor's and direct LiteLLM's summaries at ``c`` (empty if not run or failed)."""
    row = results["levels"].get(c, {})
    tutor, direct = row.get(name, {}), row.get(DIRECT, {})
    return ({} if "failed" in tutor else tutor), ({} if "failed" in direct else direct)


def _added_ttft(results: dict[str, Any], name: str, c: int, keys: tuple[str, ...]) -> str:
    tutor, direct = _level(results, c, name)
    return " / ".join(number(_added(tutor, direct, key), scale=1000, sign="+") for key in keys)


def _high(results: dict[str, Any], name: str) -> tuple[str, str]:
    tutor, direct = _level(results, HIGH, name)
    if not tutor:
        return NONE, NONE
    return str(errors(tutor)), times(ratio(tutor.get("ttft_p50"), direct.get("ttft_p50")))


def _cpu_ratios(results: dict[str, Any], name: str) -> str:
    return ", ".join(
        times(ratio(tutor.get("cpu_per_chunk"), direct.get("cpu_per_chunk")))
        for tutor, direct in (_level(results, c, name) for c in results["levels"])
    )


def _one_and_two(results: dict[str, Any], name: str) -> tuple[dict, dict] | None:
    """The steady phases of one worker and of two, if both were measured."""
    saturation = results["saturation"]
    if name != POSTGRESQL or not saturation:
        return None
    one, two = saturation.get("one", {}), saturation.get("two", {})
    if not one or not two or "failed" in one or "failed" in two:
        return None
    return one, two


def _saturation(results: dict[str, Any], name: str) -> str:
    """Chunks per second on one worker and on two at the same c, both in a steady window."""
    phases = _one_and_two(results, name)
    if phases is None:
        return NONE
    rates = phases[0]["chunks_per_second"], phases[1]["chunks_per_second"]
    return f"{number(rates[0])} → {number(rates[1])} ({times(ratio(rates[1], rates[0]))})"


def _harness(results: dict[str, Any], name: str) -> str:
    """Cores the load client and the fake provider used meanwhile, one worker; two."""
    phases = _one_and_two(results, name)
    if phases is None:
        return NONE
    return " / ".join(number(phase.get("harness_cores"), ".2f") for phase in phases)


def _figures(
    results: dict[str, Any], section: str, name: str, keys: tuple[str, ...], spec: str
) -> str:
    """Figures ``keys`` of deployment ``name`` in ``results[section]`` (idle, rolling)."""
    measured = results.get(section, {}).get(name)
    if not measured:
        return NONE
    return " / ".join(number(measured.get(key), spec) for key in keys)


def _queries(results: dict[str, Any], name: str, keys: tuple[str, ...]) -> str:
    counted = results["queries"].get(name)
    return " / ".join(number(counted.get(key)) for key in keys) if counted else NONE


def _read_off_rows(results: dict[str, Any]) -> list[tuple[str, Callable[[str], str]]]:
    """Issue 13's figures: a label, and how to get the figure for a deployment's name."""
    plan = results["plan"]
    return [
        (f"added TTFT c={LOW}, p50 / p95 ms", lambda n: _added_ttft(results, n, LOW, TTFTS)),
        (f"added TTFT c={MIDDLE}, p50 ms", lambda n: _added_ttft(results, n, MIDDLE, TTFTS[:1])),
        (f"c={HIGH}: errors", lambda n: _high(results, n)[0]),
        (f"c={HIGH}: TTFT p50 / direct p50", lambda n: _high(results, n)[1]),
        (
            f"CPU per chunk / direct, c={', '.join(map(str, results['levels']))}",
            lambda n: _cpu_ratios(results, n),
        ),
        (
            f"chunks/s at c={max(results['levels'], default=0)}, steady: 1 → 2 workers",
            lambda n: _saturation(results, n),
        ),
        (
            "  cores the load client + fake provider used: one worker / two",
            lambda n: _harness(results, n),
        ),
        (
            f"{plan['idle_sockets']} idle sockets: KiB per socket",
            lambda n: _figures(results, "idle", n, ("kib_per_socket",), ".1f"),
        ),
        (
            "  s to open them / to stop the server / to start it (listening)",
            lambda n: _figures(
                results, "idle", n, ("open_seconds", "stop_seconds", "start_seconds"), ".1f"
            ),
        ),
        (
            "  after a restart: sockets back / opened",
            lambda n: _figures(results, "idle", n, ("reconnected", "sockets"), ".0f"),
        ),
        (
            "  restart to last / median socket back, s",
            lambda n: _figures(results, "idle", n, RESTART_BACK, ".1f"),
        ),
        (
            "  listening to last back / one reconnect alone, max s",
            lambda n: _figures(
                results,
                "idle",
                n,
                ("last_back_after_listening_seconds", "handshake_max_seconds"),
                ".1f",
            ),
        ),
        (
            "rolling restart (serve, 2 workers, SIGHUP): sockets back / opened",
            lambda n: _figures(results, "rolling", n, ("reconnected", "sockets"), ".0f"),
        ),
        (
            "  SIGHUP to old workers closing / to last / median back, s",
            lambda n: _figures(
                results,
                "rolling",
                n,
                ("start_seconds", "last_back_seconds", "median_back_seconds"),
                ".1f",
            ),
        ),
        (
            "  each learner's chat away, max / median s",
            lambda n: _figures(
                results, "rolling", n, ("outage_max_seconds", "outage_median_seconds"), ".1f"
            ),
        ),
        (
            "cold restart (serve, 2 workers, SIGTERM, start): back / opened / failed tries",
            lambda n: _figures(
                results, "cold", n, ("reconnected", "sockets", "failed_attempts"), ".0f"
            ),
        ),
        (
            "  s to stop it; from its start to last / median back",
            lambda n: _figures(
                results,
                "cold",
                n,
                ("stop_seconds", "last_back_seconds", "median_back_seconds"),
                ".1f",
            ),
        ),
        ("queries per turn: all / before model call", lambda n: _queries(results, n, QUERY_KEYS)),
        (
            "database trips per turn: all / before model",
            lambda n: _queries(results, n, ("trips", "trips_before_model")),
        ),
        (
            f"DB connections per turn: served c={LOW} / in-process",
            lambda n: _connections(results, n),
        ),
        (
            "socket open: queries / connections",
            lambda n: _queries(results, n, ("open_queries", "open_connections")),
        ),
        (
            "queries, idle process, one turn's time",
            lambda n: _queries(results, n, ("idle_queries",)),
        ),
    ]


def floor(results: dict[str, Any]) -> str:
    """The bare consumer's figures, which the tutor's are to be read against."""
    idle = results.get("idle", {})
    sockets = idle.get(BARE, {}).get("sockets", results.get("plan", {}).get("idle_sockets"))
    return (
        f"{BARE_LABEL}: Daphne and Channels forwarding LiteLLM's chunks, one frame each, "
        f"nothing else;\n  CPU per chunk / direct, c={', '.join(map(str, results['levels']))}: "
        f"{_cpu_ratios(results, BARE)}; added TTFT c={MIDDLE}, p50 ms: "
        f"{_added_ttft(results, BARE, MIDDLE, TTFTS[:1])};\n  {sockets} idle sockets: KiB per "
        f"socket {_figures(results, 'idle', BARE, ('kib_per_socket',), '.1f')}; restart: back "
        f"{_figures(results, 'idle', BARE, ('reconnected', 'sockets'), '.0f')}, s to start "
        f"(listening) {_figures(results, 'idle', BARE, ('start_seconds',), '.1f')}, restart "
        f"to last / median back {_figures(results, 'idle', BARE, RESTART_BACK, '.1f')} s"
    )


def read_offs(results: dict[str, Any]) -> list[str]:
    """Issue 13's figures, one row each, a column per deployment (one worker unless said)."""
    rows = _read_off_rows(results)
    names = list(results["labels"])
    width = max(len(label) for label, _ in rows)
    columns = [max(len(results["labels"][name]), 24) for name in names]
    lines = [
        "  ".join(
            [f"{'figure':<{width}}"]
            + [
                f"{results['labels'][name]:>{col}}"
                for name, col in zip(names, columns, strict=True)
            ]
        ),
        "  ".join(["-" * width] + ["-" * col for col in columns]),
    ]
    for label, cell in rows:
        cells = [f"{cell(name):>{col}}" for name, col in zip(names, columns, strict=True)]
        lines.append("  ".join([f"{label:<{width}}", *cells]))
    return lines


QUERY_KEYS = ("queries", "before_model")
LEGEND = (
    "conn/turn, served: opens of the SQLite file (inotify) or PostgreSQL sessions "
    "(pg_stat_database) during the phase,\nless the rate with nothing to do, per turn. "
    "In-process: channels' WebsocketCommunicator on the ASGI app, Django's\n"
    "connection_created (queries too: an execute wrapper on every connection; 'before "
    "model call': before the fake got the request)."
)


def _connections(results: dict[str, Any], name: str) -> str:
    served, _ = _level(results, LOW, name)
    return f"{number(served.get('connections_per_turn'), '.1f')} / " + _queries(
        results, name, ("connections",)
    )


def _error_notes(results: dict[str, Any]) -> list[str]:
    notes = []
    for c, row in results["levels"].items():
        for name, summary in row.items():
            if summary.get("error_kinds") or summary.get("unopened") or summary.get("lost_chunks"):
                notes.append(
                    f"c={c} {name}: turn errors {summary.get('error_kinds')}, "
                    f"sockets not opened {summary.get('unopened', 0)}, "
                    f"chunks lost {summary.get('lost_chunks')}"
                )
    for name, idle in results["idle"].items():
        if "restart_error" in idle:
            notes.append(f"{name}: restart: {idle['restart_error']}"[:400])
        missing = idle.get("sockets", 0) - idle.get("reconnected", 0)
        if "reconnected" in idle and missing:
            notes.append(
                f"{name}: {missing} sockets not back after the restart "
                f"(failed attempts: {idle.get('failures')})"
            )
    for name, cold in results.get("cold", {}).items():
        missing = cold.get("sockets", 0) - cold.get("reconnected", 0)
        if missing:
            notes.append(f"{name}: cold restart: {missing} sockets not back")
    for name, rolling in results.get("rolling", {}).items():
        missing = rolling.get("sockets", 0) - rolling.get("reconnected", 0)
        if missing or rolling.get("failures"):
            notes.append(
                f"{name}: rolling restart: {missing} sockets not back "
                f"(failed attempts: {rolling.get('failures')})"
            )
    two = results["saturation"].get("two", {})
    if two.get("error_kinds") or two.get("unopened"):
        notes.append(f"two workers: {two.get('error_kinds')}, not opened {two.get('unopened')}")
    return notes


def render(results: dict[str, Any]) -> str:
    plan = results["plan"]
    header = (
        "\nserved path under load: fake OpenAI provider "
        f"({FIRST_TOKEN_DELAY_SECONDS * 1000:.0f} ms to the first of {CHUNKS} chunks, "
        f"{CHUNK_DELAY_SECONDS * 1000:.0f} ms apart), "
        f"c learners each running turns back to back for {plan['phase_seconds']:.0f} s; "
        f"{os.cpu_count()} cores.\n"
        "TTFT: from sending the message to the first text (ms); +p50/+p95: tutor minus "
        "direct LiteLLM at the same c;\ngap: mean ms between a turn's chunks (p95 over all "
        "chunks); CPU µs/ch: the server's (or direct client's) CPU per delivered chunk; "
        "errors:\nfailed turns + sockets not opened + chunks lost. One worker process per "
        "row unless it says 2;\n'steady': chunks/s and CPU counted for "
        f"{plan['saturation_seconds']:.0f} s from the moment every learner's first turn had "
        "ended (within "
        f"{plan['saturation_limit_seconds']:.0f} s), not over the phase's start."
    )
    lines = [header, "", *phases(results), "", *read_offs(results), floor(results), LEGEND]
    notes = results["notes"] + _error_notes(results)
    lines += [f"note: {note}" for note in notes]
    lines.append(f"load benchmark took {results['elapsed_seconds']:.0f} s")
    return "\n".join(lines)
