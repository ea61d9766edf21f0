"""Optional Langfuse tracing of every model call, through LiteLLM's own Langfuse callback.

Off unless both ``LANGFUSE_PUBLIC_KEY`` and ``LANGFUSE_SECRET_KEY`` are set.
Off means nothing at all: the ``langfuse`` package (and the OpenTelemetry SDK
under it) is never imported, no callback is registered, and nothing leaves
the machine.

On, :func:`configure_tracing` registers an instance of LiteLLM's Langfuse
logger, the class behind ``litellm.success_callback = ["langfuse"]``, built
with the keys from Django settings rather than left to read ``os.environ``
itself. Each chat turn becomes one Langfuse trace (``stream_chat`` gives all
its calls one ``litellm_trace_id``) holding one generation per call: the
answer, plus any failed attempt before it (model, token usage, timings, and
the error for a failed call). Traces are sent in the background over
Langfuse's OpenTelemetry endpoint (``<LANGFUSE_HOST>/api/public/otel/v1/traces``),
batched, and flushed at exit.

The prompt and the reply are personal data (the learner's own words), so they
reach Langfuse only when ``TUTOR_LOG_MESSAGE_TEXT`` allows them in logs too;
otherwise LiteLLM replaces them with a placeholder before the callback sees
them (``litellm.turn_off_message_logging``), and the trace keeps the numbers.
"""

from __future__ import annotations

import logging
from typing import Any

from django.conf import settings

logger = logging.getLogger(__name__)

# The callback this process registered, and the LiteLLM setting it changed, for undoing.
_callback: Any = None
_previous_turn_off_message_logging: bool | None = None


def tracing_enabled() -> bool:
    return bool(settings.LANGFUSE_PUBLIC_KEY and settings.LANGFUSE_SECRET_KEY)


def configure_tracing() -> bool:
    """Register the Langfuse callback when the keys are set; ``True`` if tracing is on.

    Safe to call more than once (only one callback is ever registered). A
    missing or broken ``langfuse`` install is logged and leaves tracing off:
    tracing must never stop the tutor from starting.
    """
    global _callback, _previous_turn_off_message_logging
    if _callback is not None:
        return True
    if not tracing_enabled():
        return False
    try:
        import litellm
        from litellm.integrations.langfuse.langfuse_prompt_management import (
            LangfusePromptManagement,
        )

        callback = LangfusePromptManagement(
            langfuse_public_key=settings.LANGFUSE_PUBLIC_KEY,
            langfuse_secret=settings.LANGFUSE_SECRET_KEY,
            langfuse_host=settings.LANGFUSE_HOST,
        )
    except Exception:
        logger.exception("Langfuse tracing is configured but could not start; tracing is off")
        return False
    _previous_turn_off_message_logging = litellm.turn_off_message_logging
    litellm.turn_off_message_logging = not settings.TUTOR_LOG_MESSAGE_TEXT
    litellm.logging_callback_manager.add_litellm_callback(callback)
    _callback = callback
    logger.info(
        "Langfuse tracing on: host=%s message_text=%s",
        settings.LANGFUSE_HOST,
        settings.TUTOR_LOG_MESSAGE_TEXT,
    )
    return True


def flush_tracing(timeout_seconds: float = 10.0) -> bool:
    """Send every trace still queued; ``True`` if all were accepted in time (or tracing is off)."""
    if _callback is None:
        return True
    from litellm.integrations.langfuse.langfuse_sdk import flush_langfuse_tracing

    return flush_langfuse_tracing(int(timeout_seconds * 1000))


def disable_tracing() -> None:
    """Undo :func:`configure_tracing`: flush, unregister the callback, stop its export thread."""
    global _callback, _previous_turn_off_message_logging
    if _callback is None:
        return
    import litellm
    from litellm.integrations.langfuse.langfuse_sdk import release_langfuse_tracing

    callback, _callback = _callback, None
    litellm.logging_callback_manager.remove_callback_from_all_lists(callback, require_self=False)
    litellm.turn_off_message_logging = _previous_turn_off_message_logging
    _previous_turn_off_message_logging = None
    try:
        callback.tracing.flush(5_000)
        release_langfuse_tracing(callback.tracing, grace_seconds=0)
    except Exception:  # shutting down: nothing left to protect
        logger.debug("Stopping the Langfuse exporter failed", exc_info=True)
