"""Optional moderation of learners' messages (``TUTOR_MODERATION``), beside the reply.

After a learner's message is saved and its turn has started, :func:`start_check`
asks the turn's provider's moderation endpoint about it in a task of its own
(:func:`llm_app.moderation.moderate`), so the reply never waits for it; a flagged
message gets a :class:`~lessons_app.models.ModerationFlag` for staff. A check that
fails, or a provider without moderation, leaves no flag and is no error.
"""

from __future__ import annotations

import asyncio
import logging

from django.conf import settings

from lessons_app.models import Message, ModerationFlag, attribution_columns
from lessons_app.tutor.database import database_call
from llm_app.moderation import ModerationResult, moderate
from llm_app.providers import ResolvedProvider

logger = logging.getLogger(__name__)

# Checks in flight, held so the event loop does not drop them half-way (and for tests).
_pending: set[asyncio.Task] = set()


def pending() -> set[asyncio.Task]:
    """The checks not finished yet: tests await them instead of sleeping."""
    return set(_pending)


def flag_save(*, message_id: int, result: ModerationResult, provider: ResolvedProvider) -> None:
    name = attribution_columns(provider.label, provider.model)["provider_name"]
    ModerationFlag.objects.get_or_create(
        message_id=message_id,
        defaults={"categories": list(result.categories), "provider_name": name},
    )


async def check_message(*, message_id: int, text: str, provider: ResolvedProvider) -> bool:
    """Moderate one saved message; whether it was flagged."""
    result = await moderate(text, provider)
    if result is None or not result.flagged:
        return False
    await database_call(flag_save)(message_id=message_id, result=result, provider=provider)
    return True


def _finished(task: asyncio.Task) -> None:
    _pending.discard(task)
    if not task.cancelled() and task.exception() is not None:
        logger.error("Saving a moderation flag failed", exc_info=task.exception())


def start_check(message: Message | None, provider: ResolvedProvider | None) -> None:
    """Check ``message`` in the background when moderation is on; never waits."""
    if not settings.TUTOR_MODERATION or message is None or provider is None:
        return
    task = asyncio.get_running_loop().create_task(
        check_message(message_id=message.pk, text=message.content, provider=provider)
    )
    _pending.add(task)
    task.add_done_callback(_finished)
