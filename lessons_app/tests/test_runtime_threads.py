"""The turn runtime bounds LiteLLM's worker threads in its event loop (TUTOR_LLM_THREADS)."""

from __future__ import annotations

import anyio.to_thread
import pytest

from lessons_app.tutor.runtime import get_runtime

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("turn_runtime")]


async def test_starting_the_runtime_limits_litellms_threads_to_the_setting(settings):
    settings.TUTOR_LLM_THREADS = 3
    limiter = anyio.to_thread.current_default_thread_limiter()
    assert limiter.total_tokens == 40  # anyio's own default, before
    await get_runtime()
    assert limiter.total_tokens == 3
