"""Pytest fixtures for the chat socket's tests (a plugin, listed in conftest.py).

``learner``: a learner with the published lesson ``plants`` (an article, then a chat)
to talk about, for async tests. Modules whose tests need another kind of learner (a
sync one, one per worker process) define their own ``learner``, which wins there.
"""

from __future__ import annotations

import pytest

from lessons_app.tests.chat_helpers import make_learner


@pytest.fixture
async def learner():
    return await make_learner()
