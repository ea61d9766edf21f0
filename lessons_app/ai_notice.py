"""The optional AI-use notice a learner acknowledges once, before their first chat.

Some institutions (Moodle sites, say) require that learners acknowledge AI use at the
point of use. With ``TUTOR_AI_NOTICE`` on, the lesson page shows this notice in place of
the chat until the learner accepts it, and the chat socket refuses them until then; the
acceptance is stored with its time and the notice's words.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from django.conf import settings
from django.utils.translation import gettext_lazy as _

from lessons_app.models import AiNoticeAcceptance

if TYPE_CHECKING:
    from django.contrib.auth.models import AbstractBaseUser

AI_NOTICE = _(
    "The tutor in this chat is an AI language model, not a person. What you write here, "
    "with the lesson's text, is sent to the AI provider the site uses to produce each "
    "reply. Replies can be wrong: check what matters. Your conversations are stored so "
    "that you and your teachers can read them back; you can download or delete them from "
    "your account page."
)


def notice_enabled() -> bool:
    return settings.TUTOR_AI_NOTICE


def notice_required(user: AbstractBaseUser) -> bool:
    """Whether ``user`` must accept the notice before chatting (staff never must)."""
    if not notice_enabled() or user.is_staff:
        return False
    return not AiNoticeAcceptance.objects.filter(user=user).exists()


def accept_notice(user: AbstractBaseUser, *, now: datetime) -> AiNoticeAcceptance:
    """Record that ``user`` accepted the notice now; a second acceptance keeps the first."""
    acceptance, _ = AiNoticeAcceptance.objects.get_or_create(
        user=user, defaults={"notice": str(AI_NOTICE), "accepted_at": now}
    )
    return acceptance
