"""Per-arm numbers for an experiment, for the admin's results page and its CSV export.

Everything is one aggregate query over the tutor's replies (assistant messages)
attributed to each arm. The joins are to the reply's rating (one-to-one) and
conversation (many-to-one), so no reply is counted twice in the sums.

The experiment is llm_app's but the replies are this app's, so the results
live here: llm_app knows nothing of lessons.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from decimal import Decimal

from django.db.models import Avg, Count, Q, Sum

from lessons_app.models import FAILED_STATUSES, RECORD_COLUMNS, Message, MessageRating
from llm_app.display import format_ms, format_percent
from llm_app.models import Experiment

CSV_HEADER = (
    "arm_id",
    "provider",
    "model",
    "weight",
    "learners",
    "turns",
    "rated",
    "thumbs_up",
    "thumbs_up_rate",
    "mean_ttft_ms",
    "errors",
    "error_rate",
    "input_tokens",
    "output_tokens",
    "cost_usd",
)
# Spreadsheet programs run cells starting with these as formulas.
_FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")


@dataclass(frozen=True)
class ArmResult:
    arm_id: int
    provider: str
    model: str
    weight: int
    learners: int
    turns: int
    rated: int
    thumbs_up: int
    mean_ttft_ms: float | None
    errors: int
    input_tokens: int
    output_tokens: int
    cost_usd: Decimal | None

    @property
    def label(self) -> str:
        return self.provider

    @property
    def thumbs_up_rate(self) -> float | None:
        """Share of rated replies rated up; ``None`` when nobody rated, not zero."""
        return self.thumbs_up / self.rated if self.rated else None

    @property
    def error_rate(self) -> float | None:
        return self.errors / self.turns if self.turns else None


# The numbers of a turn's record (llm_app.turn_record.TurnRecord) each arm adds up.
SUMMED_NUMBERS = ("input_tokens", "output_tokens", "cost_usd")


def arm_results(experiment: Experiment) -> list[ArmResult]:
    """One row per arm, in arm order, including arms with no turns yet.

    A turn the spending guard refused never reached the arm's provider, so its
    reply is no arm's (the usage page counts it as refused).
    """
    reply = Q(messages__role=Message.Role.ASSISTANT)
    sums = {name: Sum(f"messages__{RECORD_COLUMNS[name]}", filter=reply) for name in SUMMED_NUMBERS}
    ttft = RECORD_COLUMNS["time_to_first_token_ms"]
    arms = (
        experiment.arms.select_related("provider")
        .order_by("id")
        .annotate(
            n_learners=Count("messages__conversation__user", filter=reply, distinct=True),
            n_turns=Count("messages", filter=reply),
            n_rated=Count("messages__rating", filter=reply),
            n_up=Count(
                "messages__rating", filter=reply & Q(messages__rating__value=MessageRating.Value.UP)
            ),
            n_errors=Count("messages", filter=reply & Q(messages__status__in=FAILED_STATUSES)),
            mean_ttft=Avg(f"messages__{ttft}", filter=reply),
            **sums,
        )
    )
    return [_arm_result(arm) for arm in arms]


def _arm_result(arm) -> ArmResult:
    return ArmResult(
        arm_id=arm.pk,
        provider=arm.provider.name,
        model=arm.provider.model,
        weight=arm.weight,
        learners=arm.n_learners,
        turns=arm.n_turns,
        rated=arm.n_rated,
        thumbs_up=arm.n_up,
        mean_ttft_ms=float(arm.mean_ttft) if arm.mean_ttft is not None else None,
        errors=arm.n_errors,
        input_tokens=arm.input_tokens or 0,
        output_tokens=arm.output_tokens or 0,
        cost_usd=Decimal(arm.cost_usd) if arm.cost_usd is not None else None,
    )


# --- Chart ---------------------------------------------------------------------


@dataclass(frozen=True)
class Bar:
    label: str
    value_text: str
    # Width as a percentage of the track, 0-100; the template draws it in SVG.
    percent: float


@dataclass(frozen=True)
class Chart:
    title: str
    note: str
    bars: list[Bar]


def _percent(value: float) -> float:
    return round(max(0.0, min(100.0, value)), 1)


def charts(results: list[ArmResult]) -> list[Chart]:
    """Horizontal bar charts: thumbs-up rate (of 100%) and mean TTFT (of the slowest arm)."""
    slowest = max((r.mean_ttft_ms for r in results if r.mean_ttft_ms is not None), default=0)
    return [
        Chart(
            title="Thumbs-up rate",
            note="Share of rated replies rated up. Higher is better.",
            bars=[
                Bar(
                    r.label,
                    format_rate(r.thumbs_up_rate, r.thumbs_up, r.rated),
                    _percent(100 * r.thumbs_up_rate) if r.thumbs_up_rate is not None else 0.0,
                )
                for r in results
            ],
        ),
        Chart(
            title="Mean time to first token",
            note="Relative to the slowest arm. Lower is better.",
            bars=[
                Bar(
                    r.label,
                    format_ms(r.mean_ttft_ms),
                    _percent(100 * r.mean_ttft_ms / slowest)
                    if r.mean_ttft_ms is not None and slowest
                    else 0.0,
                )
                for r in results
            ],
        ),
    ]


# --- Formatting ------------------------------------------------------------------


def format_rate(rate: float | None, part: int, whole: int, empty: str = "no ratings") -> str:
    return empty if rate is None else f"{format_percent(rate)} ({part} / {whole})"


# --- CSV -------------------------------------------------------------------------


def csv_text(value: str) -> str:
    return "'" + value if value.startswith(_FORMULA_PREFIXES) else value


def _csv_number(value: float | None, places: int) -> str:
    return "" if value is None else f"{value:.{places}f}"


def results_csv(results: list[ArmResult]) -> str:
    """CSV with a header and one row per arm; unknown values are empty cells, rates are 0-1."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(CSV_HEADER)
    for r in results:
        writer.writerow(
            [
                r.arm_id,
                csv_text(r.provider),
                csv_text(r.model),
                r.weight,
                r.learners,
                r.turns,
                r.rated,
                r.thumbs_up,
                _csv_number(r.thumbs_up_rate, 4),
                _csv_number(r.mean_ttft_ms, 1),
                r.errors,
                _csv_number(r.error_rate, 4),
                r.input_tokens,
                r.output_tokens,
                "" if r.cost_usd is None else f"{r.cost_usd:.6f}",
            ]
        )
    return out.getvalue()
