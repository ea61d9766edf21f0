"""The spending guard: daily provider budgets and per-learner daily message limits.

Both limits run on UTC days, so every worker process and every staff member
agrees on when "today" starts, whatever their time zone. The guard is a brake,
not a ledger: it compares what the database already records (each reply's
cost, each learner message) with the limits, and a failure to read them lets
the turn run rather than taking the tutor down.
"""

from __future__ import annotations

import logging
from collections.abc import Collection
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from django.conf import settings
from django.db import transaction
from django.db.models import Sum
from django.utils import timezone
from django.utils.translation import gettext, ngettext

from lessons_app.models import Message
from lessons_app.reply_errors import ReplyErrorCode
from llm_app.providers import ResolvedProvider

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Refusal:
    """Why a turn may not run; ``message`` is written for the learner."""

    code: ReplyErrorCode
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
        parts.append(ngettext("%(count)d hour", "%(count)d hours", hours) % {"count": hours})
    if minutes:
        parts.append(
            ngettext("%(count)d minute", "%(count)d minutes", minutes) % {"count": minutes}
        )
    return " ".join(parts)


def budget_message(now: datetime) -> str:
    return gettext(
        "The tutor has used up today's budget, so it can't answer right now. "
        "It will be back at midnight UTC, in about {time}. Your work so far is saved."
    ).format(time=_time_until(now, next_reset(now)))


def daily_limit_message(limit: int, now: datetime) -> str:
    return gettext(
        "You've sent today's {limit} messages to the tutor, which is the daily limit. "
        "You can send more after midnight UTC, in about {time}. "
        "You can still read the lesson in the meantime."
    ).format(limit=limit, time=_time_until(now, next_reset(now)))


def spent_today(now: datetime, provider_ids: Collection[int]) -> dict[int, Decimal]:
    """What replies from each of these admin providers have cost since midnight UTC.

    Unpriced replies count 0. Replies are attributed to the provider that answered,
    so a fallback's spending counts against the fallback's own budget; a renamed
    provider keeps what it spent.
    """
    spent = dict.fromkeys(provider_ids, Decimal(0))
    rows = (
        Message.objects.filter(provider_id__in=provider_ids, created_at__gte=day_start(now))
        .values_list("provider_id")
        .annotate(total=Sum("cost_usd"))
        .order_by()
    )
    for provider_id, total in rows:
        spent[provider_id] = Decimal(total or 0)
    return spent


def messages_today(user, now: datetime) -> int:
    """The learner's own messages since midnight UTC, the one being answered included."""
    return Message.objects.filter(
        conversation__user=user, role=Message.Role.USER, created_at__gte=day_start(now)
    ).count()


def _budget_refusal(provider: ResolvedProvider, now: datetime) -> Refusal | None:
    # A bare model string from the environment has no budget: nothing in the admin sets one.
    budget = provider.daily_budget_usd
    if budget is None or provider.config_id is None:
        return None
    if spent_today(now, [provider.config_id])[provider.config_id] < budget:
        return None
    logger.warning(
        "Provider %s reached its daily budget of %s USD; turn refused", provider.label, budget
    )
    return Refusal(ReplyErrorCode.BUDGET_EXCEEDED, budget_message(now))


def _is_limited(user) -> bool:
    # Staff trying out their own lessons are not learners and are never limited.
    return settings.TUTOR_DAILY_MESSAGE_LIMIT > 0 and not user.is_staff


def _limit_refusal(user, now: datetime) -> Refusal | None:
    limit = settings.TUTOR_DAILY_MESSAGE_LIMIT
    if not _is_limited(user):
        return None
    if messages_today(user, now) <= limit:
        return None
    logger.info("User %s is over the daily limit of %d messages; turn refused", user.pk, limit)
    return Refusal(ReplyErrorCode.DAILY_LIMIT, daily_limit_message(limit, now))


def check_turn_allowed(
    user, provider: ResolvedProvider, *, now: datetime | None = None
) -> Refusal | None:
    """``None`` when the turn may run, else why not.

    Called after the learner's message is saved and before the reply's row is,
    so a limit of 50 lets the 50th message through and refuses the 51st. Any
    failure to check lets the turn run: an unreadable limit must not silence
    the tutor. The checks run in a savepoint, so that a failed query leaves the
    caller's transaction usable; with no budget and no limit to check, nothing runs.
    """
    if provider.daily_budget_usd is None and not _is_limited(user):
        return None
    now = now or timezone.now()
    try:
        with transaction.atomic():
            return _budget_refusal(provider, now) or _limit_refusal(user, now)
    except Exception:
        logger.exception("Spending guard failed; letting the turn run")
        return None
