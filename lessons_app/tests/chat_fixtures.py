"""Pytest fixtures for the chat socket's tests (a plugin, listed in conftest.py).

``learner``: a learner with the published lesson ``plants`` (an article, then a chat)
to talk about, for async tests. Modules whose tests need another kind of learner (a
sync one, one per worker process) define their own ``learner``, which wins there.
"""

from __future__ import annotations

import pytest


@pytest.fixture
async def learner():
    # Imported when used, not with the plugin: chat_helpers imports the ASGI application,
    # whose in-memory turn engine locks the database it finds; plugins are imported before
    # the workers plugin gives each xdist worker a database of its own.
    from lessons_app.tests.chat_helpers import make_learner

    return await make_learner()
