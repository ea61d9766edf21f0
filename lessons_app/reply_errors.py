"""Why a reply ended early: one vocabulary for ``Message.error_code`` and turn endings.

Three parts of the tutor end turns early: the LLM seam (its own
:class:`llm_app.events.ErrorCode`), the spending guard, and the chat itself.
Their codes are one :class:`ReplyErrorCode`, which the reply row validates and
docs/protocol.md lists. No models here: the chat's frame definitions use these
codes and are imported before the apps are loaded.
"""

from django.db import models
from django.utils.translation import gettext, gettext_lazy

from llm_app.events import SAFE_ERROR_MESSAGES
from llm_app.events import ErrorCode as SeamErrorCode


class ReplyErrorCode(models.TextChoices):
    """Why a reply ended early: its ``error_code``, and the code of the ``error`` frame
    that ended its turn (docs/protocol.md). Empty for a reply that got to its end."""

    # The model call failed (the seam's own codes, llm_app.events.ErrorCode).
    AUTH = SeamErrorCode.AUTH.value, "Provider rejected the key"
    RATE_LIMITED = SeamErrorCode.RATE_LIMITED.value, "Rate limited"
    UNAVAILABLE = SeamErrorCode.UNAVAILABLE.value, "Provider unavailable"
    TIMEOUT = SeamErrorCode.TIMEOUT.value, "Timed out"
    BAD_REQUEST = SeamErrorCode.BAD_REQUEST.value, "Provider refused the request"
    EMPTY_RESPONSE = SeamErrorCode.EMPTY_RESPONSE.value, "Empty reply"
    REFUSED = SeamErrorCode.REFUSED.value, "Model declined to answer"
    CONTEXT_TOO_LONG = SeamErrorCode.CONTEXT_TOO_LONG.value, "Conversation too long for the model"
    CONFIGURATION = SeamErrorCode.CONFIGURATION.value, "Provider set up wrongly"
    INTERNAL = SeamErrorCode.INTERNAL.value, "Internal error"
    # The spending guard refused the turn before any provider was called.
    BUDGET_EXCEEDED = "budget_exceeded", "Provider's daily budget spent"
    DAILY_LIMIT = "daily_limit", "Learner's daily message limit reached"
    # The chat ended the turn: the learner pressed Stop, or its server process died.
    STOPPED = "stopped", "Stopped"
    INTERRUPTED = "interrupted", "Interrupted"


# What a learner reads for the chat's own codes (the seam's are
# llm_app.events.SAFE_ERROR_MESSAGES). The spending guard's live frames say more (when
# the limit resets, lessons_app.guard); these are what a saved reply shows after a reload.
CHAT_ERROR_MESSAGES: dict[ReplyErrorCode, str] = {
    ReplyErrorCode.BUDGET_EXCEEDED: gettext_lazy(
        "The tutor had used up today's budget, so it couldn't answer. "
        "It is back after midnight UTC."
    ),
    ReplyErrorCode.DAILY_LIMIT: gettext_lazy(
        "You had sent today's messages up to the daily limit. You can send more after midnight UTC."
    ),
    ReplyErrorCode.STOPPED: gettext_lazy("You stopped this reply."),
    ReplyErrorCode.INTERRUPTED: gettext_lazy(
        "The tutor was interrupted before it finished this reply. What arrived is saved; "
        "press Retry for a new one."
    ),
}

# Codes whose text is the same whenever they happen: a socket writes it in its own
# learner's language whatever language the turn ran in (lessons_app.tutor.session).
FIXED_TEXT_CODES = frozenset(ReplyErrorCode) - {
    ReplyErrorCode.BUDGET_EXCEEDED,
    ReplyErrorCode.DAILY_LIMIT,
}


def learner_error_message(code: str) -> str | None:
    """Why a reply ended early, in the active language; ``None`` for no or an unknown code.

    The seam's events carry its English text (the shell and logs read it); the chat
    translates it by code, so a reply that failed reads the same live and after a reload,
    and each socket reads it in its own learner's language.
    """
    try:
        reply_code = ReplyErrorCode(code)
    except ValueError:
        return None
    if reply_code in CHAT_ERROR_MESSAGES:
        return str(CHAT_ERROR_MESSAGES[reply_code])
    return gettext(SAFE_ERROR_MESSAGES[SeamErrorCode(reply_code.value)])
