"""A socket's learner, read from its session as Channels' ``get_user`` reads them.

``lessons_app.tutor.admission.session_user`` reads the user's row with a prepared query
when Django's ModelBackend logged them in; each case here is held to Channels' own
answer for the same session, so the shortcut lets in exactly whom Channels lets in.
"""

from __future__ import annotations

import pytest
from channels.auth import get_user
from django.contrib.auth.backends import ModelBackend
from django.contrib.sessions.backends.db import SessionStore
from django.test import Client

from lessons_app.services import MODEL_BACKEND
from lessons_app.tests.chat_helpers import make_user
from lessons_app.tutor.admission import session_user

pytestmark = pytest.mark.django_db

AXES_BACKEND = "axes.backends.AxesStandaloneBackend"


def scope_of(user, backend: str = MODEL_BACKEND) -> dict:
    client = Client()
    client.force_login(user, backend=backend)
    return {"session": SessionStore(session_key=client.session.session_key)}


def test_a_logged_in_learner_is_the_same_user_and_not_looked_up_by_the_orm(monkeypatch):
    learner = make_user()
    scope = scope_of(learner)
    channels_user = get_user.func(scope_of(learner))
    monkeypatch.setattr(
        ModelBackend, "get_user", lambda *_: pytest.fail("looked up through the ORM")
    )
    mine = session_user(scope)
    assert mine.is_authenticated and mine.pk == channels_user.pk == learner.pk
    assert type(mine) is type(channels_user)
    for field in type(channels_user)._meta.concrete_fields:  # every column, of its type
        assert getattr(mine, field.attname) == getattr(channels_user, field.attname)
        assert type(getattr(mine, field.attname)) is type(getattr(channels_user, field.attname))
    assert mine._state.adding is False


def test_a_password_changed_since_logging_in_ends_the_session_as_in_channels():
    learner = make_user()
    sessions = [scope_of(learner), scope_of(learner)]
    learner.set_password("a-new-password-81")
    learner.save()
    mine, theirs = session_user(sessions[0]), get_user.func(sessions[1])
    assert not mine.is_authenticated and not theirs.is_authenticated
    assert sessions[0]["session"].is_empty() and sessions[1]["session"].is_empty()


@pytest.mark.parametrize("change", ["deactivated", "deleted"])
def test_an_inactive_or_deleted_user_is_anonymous_as_in_channels(change):
    learner = make_user()
    sessions = [scope_of(learner), scope_of(learner)]
    if change == "deactivated":
        learner.is_active = False
        learner.save()
    else:
        learner.delete()
    mine, theirs = session_user(sessions[0]), get_user.func(sessions[1])
    assert not mine.is_authenticated and not theirs.is_authenticated


def test_no_login_in_the_session_is_anonymous():
    session = SessionStore()
    session.create()
    assert not session_user({"session": session}).is_authenticated


def test_another_backend_is_left_to_channels(monkeypatch):
    learner = make_user()
    scope = scope_of(learner, backend=AXES_BACKEND)
    asked = []

    class Channels:
        @staticmethod
        def func(given):
            asked.append(given)
            return "Channels' answer"

    monkeypatch.setattr("lessons_app.tutor.admission.get_user", Channels)
    assert session_user(scope) == "Channels' answer"
    assert asked == [scope]
