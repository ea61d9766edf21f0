"""A Daphne server process freezes what it made while starting, once it serves."""

import gc
import sys
import types

import pytest
import twisted.internet

from tutor_project import startup_objects


@pytest.fixture
def unfrozen():
    """The test process's objects as they were before, whatever the test froze."""
    before = gc.get_freeze_count()
    yield
    if gc.get_freeze_count() != before:
        gc.unfreeze()


def test_a_server_process_freezes_its_objects_once_its_reactor_runs(unfrozen, monkeypatch):
    monkeypatch.setitem(sys.modules, "daphne.server", types.ModuleType("daphne.server"))
    when_running = []
    # A stand-in for Daphne's reactor: importing Twisted's own here would install it.
    reactor = types.SimpleNamespace(callWhenRunning=when_running.append)
    monkeypatch.setitem(sys.modules, "twisted.internet.reactor", reactor)
    monkeypatch.setattr(twisted.internet, "reactor", reactor, raising=False)

    assert startup_objects.freeze_when_serving() is True

    assert when_running == [startup_objects.freeze_startup_objects]
    frozen_before = gc.get_freeze_count()
    when_running[0]()
    assert gc.get_freeze_count() > frozen_before


def test_a_process_that_serves_nothing_is_left_alone(monkeypatch):
    monkeypatch.delitem(sys.modules, "daphne.server", raising=False)

    assert startup_objects.freeze_when_serving() is False


def test_the_test_run_itself_never_freezes():
    import tutor_project.asgi  # noqa: F401 - the application every socket test loads

    assert gc.get_freeze_count() == 0, "a test run never starts Daphne's reactor"
