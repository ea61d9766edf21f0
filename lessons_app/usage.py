"""The numbers behind the staff usage page, and the spending warnings staff see in the admin.

A turn is one tutor reply the model was asked for: an assistant message with a
model, so a lesson author's opening message is not one, and a reply the
spending guard refused is counted apart (it never reached a provider).
Everything is read in one lean query and summed in Python, which keeps the
percentiles exact and the code the same on SQLite and PostgreSQL.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal

from django.conf import settings
from django.db.models import Count, Sum
from django.utils import timezone

from lessons_app.guard import REFUSAL_CODES, day_start
from lessons_app.models import FAILED_STATUSES, Message
from llm_app.models import ProviderConfig

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
        if turn.error_code in REFUSAL_CODES:
            self.refused += 1
            return
        self.turns += 1
        self.errors += turn.status in FAILED_STATUSES
        self.input_tokens += turn.input_tokens or 0
        self.output_tokens += turn.output_tokens or 0
        if turn.cost_usd is not None:
            self.priced_turns += 1
            self.cost_usd = (self.cost_usd or Decimal(0)) + turn.cost_usd
        if turn.time_to_first_token_ms is not None:
            self.ttfts_ms.append(turn.time_to_first_token_ms)


@dataclass(frozen=True)
class _Turn:
    day: date
    provider: str
    lesson_id: int
    lesson_title: str
    status: str
    error_code: str
    input_tokens: int | None
    output_tokens: int | None
    cost_usd: Decimal | None
    time_to_first_token_ms: int | None


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


def _turns(start: date, end: date) -> Iterable[_Turn]:
    since, until = _bounds(start, end)
    rows = (
        Message.objects.filter(
            role=Message.Role.ASSISTANT, created_at__gte=since, created_at__lt=until
        )
        .exclude(model="")
        .values_list(
            "created_at",
            "provider_name",
            "conversation__lesson_id",
            "conversation__lesson__title",
            "status",
            "error_code",
            "input_tokens",
            "output_tokens",
            "cost_usd",
            "time_to_first_token_ms",
        )
        .order_by()
    )
    for created_at, *rest in rows.iterator(chunk_size=2000):
        yield _Turn(created_at.astimezone(UTC).date(), *rest)


def _sorted_by_turns(rows: Iterable[UsageRow]) -> list[UsageRow]:
    return sorted(rows, key=lambda row: (-row.turns, -row.refused, row.label.lower()))


def usage_report(start: date, end: date) -> UsageReport:
    """Totals for ``start``..``end`` (whole UTC days, both included).

    Days come newest first and include days without turns; providers and
    lessons come busiest first and only when they had turns (or refusals).
    """
    total = UsageRow(key=None, label="All")
    days = {
        end - timedelta(days=offset): UsageRow(key=end - timedelta(days=offset), label="")
        for offset in range((end - start).days + 1)
    }
    providers: dict[str, UsageRow] = {}
    lessons: dict[int, UsageRow] = {}
    for turn in _turns(start, end):
        total.add(turn)
        days[turn.day].add(turn)
        provider = providers.get(turn.provider)
        if provider is None:
            provider = providers[turn.provider] = UsageRow(
                key=turn.provider, label=turn.provider or "(unnamed)"
            )
        provider.add(turn)
        lesson = lessons.get(turn.lesson_id)
        if lesson is None:
            lesson = lessons[turn.lesson_id] = UsageRow(key=turn.lesson_id, label=turn.lesson_title)
        lesson.add(turn)
    for day, row in days.items():
        row.label = day.isoformat()
    return UsageReport(
        start=start,
        end=end,
        total=total,
        by_day=list(days.values()),
        by_provider=_sorted_by_turns(providers.values()),
        by_lesson=_sorted_by_turns(lessons.values()),
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
    budgets = dict(
        ProviderConfig.objects.filter(daily_budget_usd__isnull=False).values_list(
            "name", "daily_budget_usd"
        )
    )
    if not budgets:
        return []
    spent: dict[str, Decimal] = defaultdict(Decimal)
    rows = (
        Message.objects.filter(provider_name__in=budgets, created_at__gte=day_start(now))
        .values("provider_name")
        .annotate(total=Sum("cost_usd"))
        .order_by()
    )
    for row in rows:
        spent[row["provider_name"]] = Decimal(row["total"] or 0)
    return [
        BudgetStatus(name, budget, spent[name])
        for name, budget in sorted(budgets.items())
        if spent[name] >= budget
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
