"""An evaluation's results as a terminal table, a CSV (one row per conversation) and JSON.

The JSON has everything: the run, each conversation's transcript, every verdict
with its reason, and the summary. The CSV is for spreadsheets, so text cells that
a spreadsheet would run as formulas are quoted, as the experiment export does.
"""

from __future__ import annotations

import csv
import io
import json
from dataclasses import asdict
from pathlib import Path
from typing import Any

from django.utils.text import slugify

from lessons_app.evaluation.run import ConversationResult, EvalReport
from lessons_app.evaluation.verdicts import Check, Criterion
from lessons_app.experiment_results import csv_text

COLUMNS = ("stage", "mode", "persona", *(c.value for c in Criterion), *(c.value for c in Check))


def _percent(value: float | None) -> str:
    return "—" if value is None else f"{value:.0%}"


def _outcomes(result: ConversationResult) -> list[str]:
    return [result.verdicts[c].outcome.value for c in Criterion] + [
        result.checks[c].outcome.value for c in Check
    ]


def table(report: EvalReport) -> str:
    """A plain-text table, one line per conversation, then the summary line."""
    header = [*COLUMNS, "score"]
    rows = [
        [r.stage_title, r.mode, r.persona, *_outcomes(r), _percent(r.score)] for r in report.results
    ]
    rates = report.pass_rates()
    rows.append(
        ["all", "", f"{len(report.results)} conversations"]
        + [_percent(rates[name]) for name in COLUMNS[3:]]
        + [_percent(report.score)]
    )
    widths = [max(len(str(row[i])) for row in [header, *rows]) for i in range(len(header))]
    lines = [
        "  ".join(str(cell).ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip()
        for row in [header, *rows]
    ]
    lines.insert(1, "  ".join("-" * w for w in widths))
    title = f"{report.lesson}: tutor {report.provider} ({report.model}), judge {report.judge}"
    return "\n".join([title, *lines])


def to_csv(report: EvalReport) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(["stage_id", *COLUMNS, "score", "input_tokens", "output_tokens", "cost_usd"])
    for r in report.results:
        t = r.transcript
        writer.writerow(
            [
                r.stage_id,
                csv_text(r.stage_title),
                r.mode,
                csv_text(r.persona),
                *_outcomes(r),
                "" if r.score is None else f"{r.score:.4f}",
                t.input_tokens,
                t.output_tokens,
                f"{t.cost_usd:.6f}",
            ]
        )
    return out.getvalue()


def _verdicts(verdicts: dict) -> dict[str, dict[str, str]]:
    return {
        name.value: {"outcome": v.outcome.value, "reason": v.reason} for name, v in verdicts.items()
    }


def to_json(report: EvalReport) -> dict[str, Any]:
    return {
        "lesson": report.lesson,
        "provider": report.provider,
        "model": report.model,
        "judge": report.judge,
        "started_at": report.started_at.isoformat(),
        "score": report.score,
        "pass_rates": report.pass_rates(),
        "conversations": [
            {
                "stage_id": r.stage_id,
                "stage": r.stage_title,
                "mode": r.mode,
                "persona": r.persona,
                "score": r.score,
                "verdicts": _verdicts(r.verdicts),
                "checks": _verdicts(r.checks),
                "transcript": [asdict(turn) for turn in r.transcript.turns],
                "input_tokens": r.transcript.input_tokens,
                "output_tokens": r.transcript.output_tokens,
                "cost_usd": r.transcript.cost_usd,
            }
            for r in report.results
        ],
    }


def write_files(report: EvalReport, directory: Path) -> tuple[Path, Path]:
    """``<lesson>-<provider>-<time>.csv`` and ``.json`` in ``directory`` (made if missing)."""
    directory.mkdir(parents=True, exist_ok=True)
    stamp = report.started_at.strftime("%Y%m%d-%H%M%S")
    stem = f"{report.lesson}-{slugify(report.provider) or 'provider'}-{stamp}"
    csv_path, json_path = directory / f"{stem}.csv", directory / f"{stem}.json"
    csv_path.write_text(to_csv(report), encoding="utf-8", newline="")
    json_path.write_text(
        json.dumps(to_json(report), indent=2, ensure_ascii=False), encoding="utf-8"
    )
    return csv_path, json_path
