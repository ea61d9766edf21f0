"""Admin actions run from a change list, as staff run them."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from django.db.models import Model
from django.http import HttpResponse
from django.urls import reverse


@pytest.fixture
def run_admin_action(admin_client) -> Callable[..., HttpResponse]:
    """Run an admin action on ``objects`` from their model's change list, as staff would.

    Returns the page the admin shows afterwards (or the action's own response,
    such as a download).
    """

    def run(action: str, *objects: Model) -> HttpResponse:
        opts = objects[0]._meta
        return admin_client.post(
            reverse(f"admin:{opts.app_label}_{opts.model_name}_changelist"),
            {"action": action, "_selected_action": [obj.pk for obj in objects]},
            follow=True,
        )

    return run
