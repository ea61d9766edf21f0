"""What a process keeps of the admin's providers: reused while the revision stands, never after.

Each change below is made the way the admin or a service makes it, and the very
next resolution must see it; an unchanged revision must cost one query only.
"""

import pytest

from llm_app import revisions
from llm_app.experiments import activate, deactivate
from llm_app.models import Experiment, ExperimentArm, ProviderFallback, ProviderRevision
from llm_app.providers import resolve_provider
from llm_app.services import make_default
from llm_app.testing.factories import ProviderFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def learner(django_user_model):
    return django_user_model.objects.create_user(username="revision-learner")


def test_an_unchanged_revision_costs_one_query(django_assert_num_queries, learner):
    make_default(ProviderFactory(name="Primary"))
    resolve_provider(user=learner)
    with django_assert_num_queries(1):
        assert resolve_provider(user=learner).name == "Primary"


def test_switching_the_default_is_seen_by_the_next_resolution():
    first, second = ProviderFactory(name="First"), ProviderFactory(name="Second")
    make_default(first)
    assert resolve_provider().name == "First"
    make_default(second)
    assert resolve_provider().name == "Second"


def test_editing_and_deleting_the_default_are_seen():
    config = ProviderFactory(name="Tutor", model="openai/gpt-4o-mini")
    make_default(config)
    assert resolve_provider().model == "openai/gpt-4o-mini"
    config.model = "gemini/gemini-2.5-flash"
    config.save()
    assert resolve_provider().model == "gemini/gemini-2.5-flash"
    config.delete()
    assert resolve_provider().name == ""  # the environment's provider


def test_adding_and_removing_a_fallback_is_seen():
    primary, backup = ProviderFactory(name="Primary"), ProviderFactory(name="Backup")
    make_default(primary)
    assert resolve_provider().fallbacks == ()
    link = ProviderFallback.objects.create(provider=primary, fallback=backup, position=1)
    assert [f.name for f in resolve_provider().fallbacks] == ["Backup"]
    backup.enabled = False
    backup.save()
    assert resolve_provider().fallbacks == ()
    backup.enabled = True
    backup.save()
    assert [f.name for f in resolve_provider().fallbacks] == ["Backup"]
    link.delete()
    assert resolve_provider().fallbacks == ()


def test_starting_and_stopping_an_experiment_is_seen(learner):
    make_default(ProviderFactory(name="Default"))
    arm_provider = ProviderFactory(name="Arm")
    experiment = Experiment.objects.create(name="tone")
    ExperimentArm.objects.create(experiment=experiment, provider=arm_provider)
    assert resolve_provider(user=learner).name == "Default"
    activate(experiment)
    chosen = resolve_provider(user=learner)
    assert chosen.name == "Arm"
    assert chosen.experiment_arm_id == experiment.arms.get().pk
    assert resolve_provider().name == "Default"  # nobody to assign
    deactivate(Experiment.objects.all())
    assert resolve_provider(user=learner).name == "Default"


def test_without_a_revision_row_nothing_is_kept(django_assert_num_queries):
    make_default(ProviderFactory(name="Primary"))
    ProviderRevision.objects.all().delete()  # as a flushed test database leaves it
    resolve_provider()
    with django_assert_num_queries(4):  # revision, arms, default, its fallbacks: every time
        assert resolve_provider().name == "Primary"


def test_a_bump_never_repeats_a_token():
    tokens = set()
    for _ in range(20):
        revisions.bump()
        tokens.add(revisions.current())
    assert len(tokens) == 20
