"""The experiment admin: creating experiments with arms, switching them, linking to results."""

import pytest
from django.contrib.admin import AdminSite
from django.urls import reverse

from llm_app.admin_experiments import ExperimentAdmin
from llm_app.admin_urls import RESULTS_URL_NAME
from llm_app.models import Experiment, ExperimentArm, ProviderConfig

pytestmark = pytest.mark.django_db


@pytest.fixture
def claude():
    return ProviderConfig.objects.create(name="Claude", model="anthropic/claude-sonnet-4-20250514")


@pytest.fixture
def gemini():
    return ProviderConfig.objects.create(name="Gemini", model="gemini/gemini-2.5-flash")


@pytest.fixture
def running(claude, gemini):
    """The active experiment, with two arms."""
    experiment = Experiment.objects.create(name="Tone test", is_active=True)
    ExperimentArm.objects.create(experiment=experiment, provider=claude, weight=1)
    ExperimentArm.objects.create(experiment=experiment, provider=gemini, weight=3)
    return experiment


# --- Creating and switching ------------------------------------------------------


def test_add_experiment_with_two_arms_through_the_admin(admin_client, claude, gemini):
    response = admin_client.post(
        reverse("admin:llm_app_experiment_add"),
        {
            "name": "Speed",
            "description": "Which is faster?",
            "arms-TOTAL_FORMS": "2",
            "arms-INITIAL_FORMS": "0",
            "arms-MIN_NUM_FORMS": "0",
            "arms-MAX_NUM_FORMS": "1000",
            "arms-0-provider": str(claude.pk),
            "arms-0-weight": "1",
            "arms-1-provider": str(gemini.pk),
            "arms-1-weight": "3",
        },
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    experiment = Experiment.objects.get(name="Speed")
    assert not experiment.is_active  # only the actions switch experiments on
    assert [(a.provider.name, a.weight) for a in experiment.arms.order_by("id")] == [
        ("Claude", 1),
        ("Gemini", 3),
    ]
    change = admin_client.get(reverse("admin:llm_app_experiment_change", args=[experiment.pk]))
    assert "25%" in change.content.decode()
    assert "75%" in change.content.decode()


def test_activate_action_switches_to_the_selected_experiment(run_admin_action, running, claude):
    other = Experiment.objects.create(name="Speed")
    ExperimentArm.objects.create(experiment=other, provider=claude)
    response = run_admin_action("activate", other)
    assert "Speed is now the active experiment" in response.content.decode()
    assert list(Experiment.objects.filter(is_active=True)) == [other]
    running.refresh_from_db()
    assert not running.is_active


def test_activate_needs_exactly_one_selected(run_admin_action, running):
    other = Experiment.objects.create(name="Speed")
    response = run_admin_action("activate", running, other)
    assert "Select exactly one experiment" in response.content.decode()
    assert list(Experiment.objects.filter(is_active=True)) == [running]


def test_activating_an_experiment_without_usable_arms_warns(run_admin_action, gemini):
    gemini.enabled = False
    gemini.save()
    lonely = Experiment.objects.create(name="Lonely")
    ExperimentArm.objects.create(experiment=lonely, provider=gemini)
    response = run_admin_action("activate", lonely)
    assert "has no arm with an enabled provider" in response.content.decode()
    lonely.refresh_from_db()
    assert lonely.is_active


def test_deactivate_action_stops_the_experiment(run_admin_action, running):
    response = run_admin_action("deactivate", running)
    assert "Experiment stopped" in response.content.decode()
    assert not Experiment.objects.filter(is_active=True).exists()
    response = run_admin_action("deactivate", running)
    assert "None of those experiments was active" in response.content.decode()


# --- Links to the results ---------------------------------------------------------


def test_change_page_and_list_link_to_the_results_page_by_its_name(admin_client, running):
    results_url = reverse(f"admin:{RESULTS_URL_NAME}", args=[running.pk])
    change = admin_client.get(reverse("admin:llm_app_experiment_change", args=[running.pk]))
    changelist = admin_client.get(reverse("admin:llm_app_experiment_changelist"))
    assert f'href="{results_url}"' in change.content.decode()
    assert f'href="{results_url}"' in changelist.content.decode()


def test_no_results_link_on_a_site_that_does_not_serve_the_results(running):
    """llm_app's admin works on any admin site; the results page is the project's."""
    model_admin = ExperimentAdmin(Experiment, AdminSite(name="plain"))
    assert model_admin.results_url(running) is None
    assert model_admin.results_link(running) is None
