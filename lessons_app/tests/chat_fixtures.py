"""Pytest fixtures for the chat's tests (a plugin, listed in conftest.py).

``learner``: a learner with the published lesson ``plants`` (an article, then a chat)
to talk about, for async tests. Modules whose tests need another kind of learner (a
sync one, one per worker process) define their own ``learner``, which wins there.
``turn_log``: caplog attached to the turn log (``tutor.turns``).
"""

from __future__ import annotations

import logging

import pytest

from lessons_app import observability


@pytest.fixture
async def learner():
    # Imported when used, not with the plugin: chat_helpers imports the ASGI application,
    # whose in-memory turn engine locks the database it finds; plugins are imported before
    # the workers plugin gives each xdist worker a database of its own.
    from lessons_app.tests.chat_helpers import make_learner

    return await make_learner()


@pytest.fixture
def turn_log(caplog):
    """caplog, attached to the turn logger itself.

    Production logging may give ``tutor.turns`` its own JSON handler and stop it
    propagating to the root logger, where caplog listens; this works either way.
    """
    turns = logging.getLogger(observability.logger.name)
    saved = (turns.propagate, turns.level)
    turns.addHandler(caplog.handler)
    turns.propagate = False
    turns.setLevel(logging.INFO)
    yield caplog
    turns.removeHandler(caplog.handler)
    turns.propagate, turns.level = saved
