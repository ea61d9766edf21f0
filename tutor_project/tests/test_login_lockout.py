"""Log-in throttling (django-axes): the login form and the admin's, lock-out and unlock.

Run on PostgreSQL in CI (as the whole suite is there), on SQLite locally. Time is moved by
back-dating the recorded attempts, not by waiting out the cool-off.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from axes.models import AccessAttempt
from django.conf import settings
from django.core.management import call_command
from django.test import Client
from django.urls import reverse

from lessons_app.tests.factories import LearnerFactory

pytestmark = pytest.mark.django_db

PASSWORD = "right-password-4471"
LOGIN = reverse("login")
ADMIN_LOGIN = reverse("admin:login")


@pytest.fixture
def learner():
    user = LearnerFactory(username="ada")
    user.set_password(PASSWORD)
    user.save()
    return user


def attempt(client: Client, password: str, *, url: str = LOGIN, ip: str = "10.0.0.1", user="ada"):
    return client.post(url, {"username": user, "password": password}, REMOTE_ADDR=ip)


def logged_in(client: Client) -> bool:
    return settings.SESSION_COOKIE_NAME in client.cookies and bool(
        client.session.get("_auth_user_id")
    )


def fail_until_locked(client: Client, **where) -> None:
    for number in range(1, settings.AXES_FAILURE_LIMIT):
        response = attempt(client, f"wrong-{number}", **where)
        assert response.status_code == 200, number  # the form again, with its error
    assert attempt(client, "wrong-last", **where).status_code == 429


def test_the_right_password_after_too_many_wrong_ones_is_refused_with_a_clear_page(client, learner):
    fail_until_locked(client)
    response = attempt(client, PASSWORD)
    assert response.status_code == 429
    page = " ".join(response.content.decode().split())
    assert "Too many attempts" in page
    assert f"failed {settings.AXES_FAILURE_LIMIT} times" in page
    assert "15 minutes" in page
    assert "ask a teacher or administrator to unlock it" in page
    assert not logged_in(client)


def test_a_lock_out_is_per_username_and_address(client, learner):
    grace = LearnerFactory(username="grace")
    grace.set_password(PASSWORD)
    grace.save()
    fail_until_locked(client)
    # A classmate behind the same address, and the learner from elsewhere, are not locked.
    assert attempt(Client(), "wrong", user="grace").status_code == 200
    assert attempt(Client(), PASSWORD, ip="10.0.0.2").status_code == 302


def test_fewer_failures_then_success_resets_the_count(client, learner):
    for _ in range(settings.AXES_FAILURE_LIMIT - 1):
        attempt(client, "wrong")
    assert attempt(client, PASSWORD).status_code == 302
    client.logout()
    for _ in range(settings.AXES_FAILURE_LIMIT - 1):
        assert attempt(client, "wrong").status_code == 200
    assert attempt(client, PASSWORD).status_code == 302


def test_the_lock_out_ends_after_the_cool_off(client, learner):
    fail_until_locked(client)
    AccessAttempt.objects.update(
        attempt_time=AccessAttempt.objects.get().attempt_time
        - settings.AXES_COOLOFF_TIME
        - timedelta(seconds=1)
    )
    assert attempt(client, PASSWORD).status_code == 302
    assert logged_in(client)


def test_the_admin_login_is_locked_out_too(client, learner):
    learner.is_staff = True
    learner.save()
    fail_until_locked(client, url=ADMIN_LOGIN)
    response = attempt(client, PASSWORD, url=ADMIN_LOGIN)
    assert response.status_code == 429
    assert "Too many attempts" in response.content.decode()
    # The two forms count together: the learner form is locked for the same pair.
    assert attempt(client, PASSWORD).status_code == 429


def test_staff_unlock_with_the_management_command(client, learner):
    fail_until_locked(client)
    call_command("axes_reset_username", "ada")
    assert attempt(client, PASSWORD).status_code == 302


def test_staff_unlock_in_the_admin(client, learner, admin_client):
    fail_until_locked(client)
    changelist = reverse("admin:axes_accessattempt_changelist")
    page = admin_client.get(changelist).content.decode()
    assert "ada" in page
    (locked,) = AccessAttempt.objects.all()
    admin_client.post(
        changelist, {"action": "delete_selected", "_selected_action": [locked.pk], "post": "yes"}
    )
    assert not AccessAttempt.objects.exists()
    assert attempt(client, PASSWORD).status_code == 302
