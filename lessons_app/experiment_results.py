"""Per-arm numbers for an experiment, for the admin's results page and its CSV export.

The reply numbers are one aggregate query over the tutor's replies (assistant
messages) attributed to each arm. The joins are to the reply's rating (one-to-one)
and conversation (many-to-one), so no reply is counted twice in the sums. What the
arms did for learning (objectives met, quiz answers, hints, evaluation scores) is
counted apart, by :mod:`lessons_app.learning_signals`, and joined on by arm.

The experiment is llm_app's but the replies are this app's, so the results
live here: llm_app knows nothing of lessons.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field, replace
from decimal import Decimal

from django.db.models import Avg, Count, Q, Sum

from lessons_app.learning_signals import LearningSignals, learning_signals
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
    "objectives_met",
    "objectives_per_learner",
    "answers",
    "correct_answers",
    "quiz_correct_rate",
    "hints",
    "hints_per_learner",
    "eval_score",
    "eval_lessons",
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
    signals: LearningSignals = field(default_factory=LearningSignals)

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

    def per_learner(self, count: int) -> float | None:
        return count / self.learners if self.learners else None


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


def arm_results_with_learning(experiment: Experiment) -> list[ArmResult]:
    """:func:`arm_results` with each arm's learning signals filled in."""
    signals = learning_signals(experiment)
    return [replace(r, signals=signals[r.arm_id]) for r in arm_results(experiment)]


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


def _rate_chart(title: str, note: str, bars: list[tuple[str, float | None, str]]) -> Chart:
    """Bars of rates out of 100%: (label, rate or None, its text)."""
    return Chart(
        title=title,
        note=note,
        bars=[
            Bar(label, text, _percent(100 * rate) if rate is not None else 0.0)
            for label, rate, text in bars
        ],
    )


def _relative_chart(title: str, note: str, bars: list[tuple[str, float | None, str]]) -> Chart:
    """Bars relative to the largest value: (label, value or None, its text)."""
    largest = max((value for _, value, _ in bars if value is not None), default=0)
    return Chart(
        title=title,
        note=note,
        bars=[
            Bar(label, text, _percent(100 * value / largest) if value and largest else 0.0)
            for label, value, text in bars
        ],
    )


def charts(results: list[ArmResult]) -> list[Chart]:
    """Bar charts: thumbs-up rate and mean TTFT, then what the arms did for learning."""
    objectives = [(r, r.per_learner(r.signals.objectives_met)) for r in results]
    return [
        _rate_chart(
            "Thumbs-up rate",
            "Share of rated replies rated up. Higher is better.",
            [
                (r.label, r.thumbs_up_rate, format_rate(r.thumbs_up_rate, r.thumbs_up, r.rated))
                for r in results
            ],
        ),
        _relative_chart(
            "Mean time to first token",
            "Relative to the slowest arm. Lower is better.",
            [(r.label, r.mean_ttft_ms, format_ms(r.mean_ttft_ms)) for r in results],
        ),
        _rate_chart(
            "Quiz correctness",
            "Share of quiz answers the tutor judged correct. Higher is better.",
            [(r.label, r.signals.quiz_correct_rate, format_quiz(r.signals)) for r in results],
        ),
        _relative_chart(
            "Objectives met per learner",
            "Relative to the arm with the most. Higher is better.",
            [(r.label, value, format_per_learner(value)) for r, value in objectives],
        ),
        _rate_chart(
            "Evaluation score",
            "tutor_eval score of the arm's provider (latest run per lesson). Higher is better.",
            [(r.label, r.signals.eval_score, format_eval(r.signals)) for r in results],
        ),
    ]


# --- Formatting ------------------------------------------------------------------


def format_rate(rate: float | None, part: int, whole: int, empty: str = "no ratings") -> str:
    return empty if rate is None else f"{format_percent(rate)} ({part} / {whole})"


def format_quiz(signals: LearningSignals) -> str:
    return format_rate(
        signals.quiz_correct_rate, signals.correct_answers, signals.answers, empty="no answers"
    )


def format_per_learner(value: float | None) -> str:
    return "—" if value is None else f"{value:.2f}"


def format_eval(signals: LearningSignals) -> str:
    if signals.eval_score is None:
        return "no runs"
    lessons = "lesson" if signals.eval_lessons == 1 else "lessons"
    return f"{format_percent(signals.eval_score)} ({signals.eval_lessons} {lessons})"


# --- CSV -------------------------------------------------------------------------


def csv_text(value: str) -> str:
    return "'" + value if value.startswith(_FORMULA_PREFIXES) else value


def _csv_number(value: float | None, places: int) -> str:
    return "" if value is None else f"{value:.{places}f}"


def _signal_cells(r: ArmResult) -> list[object]:
    signals = r.signals
    return [
        signals.objectives_met,
        _csv_number(r.per_learner(signals.objectives_met), 4),
        signals.answers,
        signals.correct_answers,
        _csv_number(signals.quiz_correct_rate, 4),
        signals.hints,
        _csv_number(r.per_learner(signals.hints), 4),
        _csv_number(signals.eval_score, 4),
        signals.eval_lessons,
    ]


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
                *_signal_cells(r),
            ]
        )
    return out.getvalue()
