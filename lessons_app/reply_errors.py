"""Why a reply ended early: one vocabulary for ``Message.error_code`` and turn endings.

Three parts of the tutor end turns early: the LLM seam (its own
:class:`llm_app.events.ErrorCode`), the spending guard, and the chat itself.
Their codes are one :class:`ReplyErrorCode`, which the reply row validates and
docs/protocol.md lists. No models here: the chat's frame definitions use these
codes and are imported before the apps are loaded.
"""

from django.db import models
from django.utils.translation import gettext

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


def learner_error_message(code: str) -> str | None:
    """Why a model call failed, in the active language; ``None`` for the chat's own codes.

    The seam's events carry its English text (the shell and logs read it); the chat
    translates it by code, so a reply that failed reads the same live and after a reload.
    """
    try:
        return gettext(SAFE_ERROR_MESSAGES[SeamErrorCode(code)])
    except ValueError:
        return None
