"""The numbers behind the staff usage page, and the spending warnings staff see in the admin.

A turn is one tutor reply the model was asked for: an assistant message with a
model, so a lesson author's opening message is not one, and neither is the
reply of a turn the spending guard refused (it never reached a provider); the
refusals are counted apart, from their own records. Replies and refusals are
kept by the admin provider while it exists, so renaming one keeps its history,
and by the name they were saved with once it is deleted. Everything is read in
lean queries and summed in Python, which keeps the percentiles exact and the
code the same on SQLite and PostgreSQL.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal

from django.conf import settings
from django.db.models import Count
from django.utils import timezone

from lessons_app.guard import day_start, spent_today
from lessons_app.models import (
    FAILED_STATUSES,
    RECORD_COLUMNS,
    Message,
    TurnRefusal,
    turn_record_from,
)
from llm_app.models import ProviderConfig
from llm_app.turn_record import TurnRecord

DEFAULT_DAYS = 14
# Longest range the page reads at once; a year of turns is already a lot of rows.
MAX_DAYS = 366


def percentile(values: Sequence[float], fraction: float) -> float | None:
    """The ``fraction`` percentile by linear interpolation, as PostgreSQL's ``percentile_cont``.

    ``None`` for no values, never 0: "no data" is not "instant".
    """
    if not values:
        return None
    ordered = sorted(values)
    position = (len(ordered) - 1) * fraction
    lower = math.floor(position)
    upper = min(lower + 1, len(ordered) - 1)
    return ordered[lower] + (ordered[upper] - ordered[lower]) * (position - lower)


@dataclass
class UsageRow:
    """The totals for one day, provider or lesson (or all of them)."""

    key: object
    label: str
    turns: int = 0
    errors: int = 0
    refused: int = 0
    input_tokens: int = 0
    output_tokens: int = 0
    priced_turns: int = 0
    cost_usd: Decimal | None = None
    ttfts_ms: list[int] = field(default_factory=list, repr=False)

    @property
    def error_rate(self) -> float | None:
        return self.errors / self.turns if self.turns else None

    @property
    def ttft_p50_ms(self) -> float | None:
        return percentile(self.ttfts_ms, 0.50)

    @property
    def ttft_p95_ms(self) -> float | None:
        return percentile(self.ttfts_ms, 0.95)

    def add(self, turn: _Turn) -> None:
        record = turn.record
        self.turns += 1
        self.errors += turn.status in FAILED_STATUSES
        self.input_tokens += record.input_tokens or 0
        self.output_tokens += record.output_tokens or 0
        if record.cost_usd is not None:
            self.priced_turns += 1
            # Back to the decimal it was saved as: the column's digits all survive a float.
            self.cost_usd = (self.cost_usd or Decimal(0)) + Decimal(str(record.cost_usd))
        if record.time_to_first_token_ms is not None:
            self.ttfts_ms.append(record.time_to_first_token_ms)

    def add_refusal(self) -> None:
        self.refused += 1


# What a row is kept under, and what it is called.
Group = tuple[object, str]


@dataclass(frozen=True)
class _Counted:
    """What a turn or a refusal is counted under: its UTC day, its provider and lesson."""

    day: date
    provider: Group
    lesson: Group


@dataclass(frozen=True)
class _Turn(_Counted):
    status: str
    record: TurnRecord


@dataclass(frozen=True)
class UsageReport:
    start: date
    end: date
    total: UsageRow
    by_day: list[UsageRow]
    by_provider: list[UsageRow]
    by_lesson: list[UsageRow]


def default_range(today: date) -> tuple[date, date]:
    """The last :data:`DEFAULT_DAYS` days, today included."""
    return today - timedelta(days=DEFAULT_DAYS - 1), today


def utc_today() -> date:
    return timezone.now().astimezone(UTC).date()


def _bounds(start: date, end: date) -> tuple[datetime, datetime]:
    """``[start 00:00 UTC, the day after end 00:00 UTC)``: both days whole."""
    return (
        datetime.combine(start, time.min, tzinfo=UTC),
        datetime.combine(end + timedelta(days=1), time.min, tzinfo=UTC),
    )


def _provider(provider_id: int | None, current_name: str | None, saved_name: str) -> Group:
    """The admin provider while it exists (renamed or not), else the name saved with the row."""
    if provider_id is not None:
        return ("provider", provider_id), current_name
    return ("name", saved_name), saved_name or "(unnamed)"


_ATTRIBUTION = (
    "created_at",
    "provider_id",
    "provider__name",
    "provider_name",
    "conversation__lesson_id",
    "conversation__lesson__title",
)
# The numbers of a turn's record the page reads.
_READ_NUMBERS = ("input_tokens", "output_tokens", "cost_usd", "time_to_first_token_ms")


def _counted_from(row: Sequence) -> _Counted:
    created_at, provider_id, current_name, saved_name, lesson_id, lesson_title = row
    return _Counted(
        created_at.astimezone(UTC).date(),
        _provider(provider_id, current_name, saved_name),
        (lesson_id, lesson_title),
    )


def _turns(start: date, end: date) -> Iterator[_Turn]:
    since, until = _bounds(start, end)
    columns = [RECORD_COLUMNS[name] for name in _READ_NUMBERS]
    rows = (
        Message.objects.filter(
            role=Message.Role.ASSISTANT, created_at__gte=since, created_at__lt=until
        )
        .exclude(model="")
        .values_list(*_ATTRIBUTION, "status", *columns)
        .order_by()
    )
    for row in rows.iterator(chunk_size=2000):
        counted = _counted_from(row[: len(_ATTRIBUTION)])
        status, *numbers = row[len(_ATTRIBUTION) :]
        record = turn_record_from(dict(zip(columns, numbers, strict=True)))
        yield _Turn(counted.day, counted.provider, counted.lesson, status, record)


def _refusals(start: date, end: date) -> Iterator[_Counted]:
    since, until = _bounds(start, end)
    rows = (
        TurnRefusal.objects.filter(created_at__gte=since, created_at__lt=until)
        .values_list(*_ATTRIBUTION)
        .order_by()
    )
    for row in rows.iterator(chunk_size=2000):
        yield _counted_from(row)


def _sorted_by_turns(rows: Iterable[UsageRow]) -> list[UsageRow]:
    return sorted(rows, key=lambda row: (-row.turns, -row.refused, row.label.lower()))


class _Tally:
    """The report's rows as they fill up: all, each day of the range, each provider and lesson."""

    def __init__(self, start: date, end: date) -> None:
        self.total = UsageRow(key=None, label="All")
        days = (end - timedelta(days=offset) for offset in range((end - start).days + 1))
        self.days = {day: UsageRow(key=day, label=day.isoformat()) for day in days}
        self.providers: dict[object, UsageRow] = {}
        self.lessons: dict[object, UsageRow] = {}

    def rows_of(self, event: _Counted) -> Iterator[UsageRow]:
        yield self.total
        yield self.days[event.day]
        for rows, (key, label) in ((self.providers, event.provider), (self.lessons, event.lesson)):
            if key not in rows:
                rows[key] = UsageRow(key=key, label=label)
            yield rows[key]


def usage_report(start: date, end: date) -> UsageReport:
    """Totals for ``start``..``end`` (whole UTC days, both included).

    Days come newest first and include days without turns; providers and
    lessons come busiest first and only when they had turns (or refusals).
    """
    tally = _Tally(start, end)
    for turn in _turns(start, end):
        for row in tally.rows_of(turn):
            row.add(turn)
    for refusal in _refusals(start, end):
        for row in tally.rows_of(refusal):
            row.add_refusal()
    return UsageReport(
        start=start,
        end=end,
        total=tally.total,
        by_day=list(tally.days.values()),
        by_provider=_sorted_by_turns(tally.providers.values()),
        by_lesson=_sorted_by_turns(tally.lessons.values()),
    )


# --- Warnings for staff ---------------------------------------------------------


@dataclass(frozen=True)
class BudgetStatus:
    provider: str
    budget_usd: Decimal
    spent_usd: Decimal


def exhausted_budgets(now: datetime | None = None) -> list[BudgetStatus]:
    """Providers whose spending today (UTC) has reached their daily budget."""
    now = now or timezone.now()
    budgets = list(
        ProviderConfig.objects.filter(daily_budget_usd__isnull=False)
        .order_by("name")
        .values_list("pk", "name", "daily_budget_usd")
    )
    if not budgets:
        return []
    spent = spent_today(now, [pk for pk, _, _ in budgets])
    return [
        BudgetStatus(name, budget, spent[pk]) for pk, name, budget in budgets if spent[pk] >= budget
    ]


def learners_at_daily_limit(now: datetime | None = None) -> int:
    """Learners (not staff) who have sent all of today's allowed messages; 0 without a limit."""
    limit = settings.TUTOR_DAILY_MESSAGE_LIMIT
    if limit <= 0:
        return 0
    now = now or timezone.now()
    return (
        Message.objects.filter(
            role=Message.Role.USER,
            created_at__gte=day_start(now),
            conversation__user__is_staff=False,
        )
        .values("conversation__user")
        .annotate(sent=Count("id"))
        .filter(sent__gte=limit)
        .count()
    )


def staff_warnings(now: datetime | None = None) -> list[str]:
    """What staff should know about the spending guard today, one sentence each."""
    now = now or timezone.now()
    warnings = [
        f"Provider “{status.provider}” has reached its daily budget "
        f"(${status.spent_usd:.2f} of ${status.budget_usd:.2f} spent today, UTC): "
        "learners get a “budget exceeded” error until midnight UTC."
        for status in exhausted_budgets(now)
    ]
    at_limit = learners_at_daily_limit(now)
    if at_limit:
        limit = settings.TUTOR_DAILY_MESSAGE_LIMIT
        who = "1 learner has" if at_limit == 1 else f"{at_limit} learners have"
        warnings.append(
            f"{who} reached the daily limit of {limit} messages today (UTC); "
            "further messages are refused until midnight UTC."
        )
    return warnings
