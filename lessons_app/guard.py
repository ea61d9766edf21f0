"""The spending guard: daily provider budgets and per-learner daily message limits.

Both limits run on UTC days, so every worker process and every staff member
agrees on when "today" starts, whatever their time zone. The guard is a brake,
not a ledger: it compares what the database already records (each reply's
cost, each learner message) with the limits, and a failure to read them lets
the turn run rather than taking the tutor down.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from enum import StrEnum

from django.conf import settings
from django.db.models import Sum
from django.utils import timezone

from lessons_app.models import Message
from llm_app.models import ProviderConfig
from llm_app.providers import ResolvedProvider

logger = logging.getLogger(__name__)


class RefusalCode(StrEnum):
    """The ``error`` codes a refused turn ends with (documented in docs/protocol.md)."""

    BUDGET_EXCEEDED = "budget_exceeded"
    DAILY_LIMIT = "daily_limit"


# A reply row finished with one of these never reached a provider: reports count it apart.
REFUSAL_CODES = frozenset(code.value for code in RefusalCode)


@dataclass(frozen=True)
class Refusal:
    """Why a turn may not run; ``message`` is written for the learner."""

    code: str
    message: str


def day_start(now: datetime) -> datetime:
    """Midnight UTC at the start of ``now``'s day: when today's budgets and limits began."""
    return now.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)


def next_reset(now: datetime) -> datetime:
    """Midnight UTC at the end of ``now``'s day, when budgets and limits start afresh."""
    return day_start(now) + timedelta(days=1)


def _time_until(now: datetime, then: datetime) -> str:
    """``"3 hours 20 minutes"``-style wording for a learner, never "0 minutes"."""
    minutes = max(1, int((then - now).total_seconds() // 60))
    hours, minutes = divmod(minutes, 60)
    parts = []
    if hours:
        parts.append(f"{hours} hour{'s' if hours != 1 else ''}")
    if minutes:
        parts.append(f"{minutes} minute{'s' if minutes != 1 else ''}")
    return " ".join(parts)


def budget_message(now: datetime) -> str:
    return (
        "The tutor has used up today's budget, so it can't answer right now. "
        f"It will be back at midnight UTC, in about {_time_until(now, next_reset(now))}. "
        "Your work so far is saved."
    )


def daily_limit_message(limit: int, now: datetime) -> str:
    return (
        f"You've sent today's {limit} messages to the tutor, which is the daily limit. "
        f"You can send more after midnight UTC, in about {_time_until(now, next_reset(now))}. "
        "You can still read the lesson in the meantime."
    )


def spent_today(provider_name: str, now: datetime) -> Decimal:
    """What replies from ``provider_name`` have cost since midnight UTC (unpriced ones count 0).

    Replies are attributed to the provider that answered, so a fallback's
    spending counts against the fallback's own budget.
    """
    total = Message.objects.filter(
        provider_name=provider_name, created_at__gte=day_start(now)
    ).aggregate(total=Sum("cost_usd"))["total"]
    return Decimal(total or 0)


def messages_today(user, now: datetime) -> int:
    """The learner's own messages since midnight UTC, the one being answered included."""
    return Message.objects.filter(
        conversation__user=user, role=Message.Role.USER, created_at__gte=day_start(now)
    ).count()


def _budget_refusal(provider: ResolvedProvider, now: datetime) -> Refusal | None:
    if not provider.name:
        # A bare model string from the environment: nothing in the admin gives it a budget.
        return None
    budget = (
        ProviderConfig.objects.filter(name=provider.name)
        .values_list("daily_budget_usd", flat=True)
        .first()
    )
    if budget is None or spent_today(provider.name, now) < budget:
        return None
    logger.warning(
        "Provider %s reached its daily budget of %s USD; turn refused", provider.name, budget
    )
    return Refusal(RefusalCode.BUDGET_EXCEEDED.value, budget_message(now))


def _limit_refusal(user, now: datetime) -> Refusal | None:
    limit = settings.TUTOR_DAILY_MESSAGE_LIMIT
    if limit <= 0 or user.is_staff:
        # Staff trying out their own lessons are not learners and are never limited.
        return None
    if messages_today(user, now) <= limit:
        return None
    logger.info("User %s is over the daily limit of %d messages; turn refused", user.pk, limit)
    return Refusal(RefusalCode.DAILY_LIMIT.value, daily_limit_message(limit, now))


def check_turn_allowed(
    user, provider: ResolvedProvider, *, now: datetime | None = None
) -> Refusal | None:
    """``None`` when the turn may run, else why not.

    Called after the learner's message is saved, so a limit of 50 lets the
    50th message through and refuses the 51st. Any failure to check lets the
    turn run: an unreadable limit must not silence the tutor.
    """
    now = now or timezone.now()
    try:
        return _budget_refusal(provider, now) or _limit_refusal(user, now)
    except Exception:
        logger.exception("Spending guard failed; letting the turn run")
        return None
