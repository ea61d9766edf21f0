"""Assigning learners to experiment arms, and how that feeds provider resolution."""

import os
import subprocess
import sys
from collections import Counter

import pytest
from django.conf import settings
from django.contrib.auth.models import AnonymousUser
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction

from llm_app import experiments
from llm_app.experiments import arm_for, assign_arm, assignment_key, pick_weighted
from llm_app.models import Experiment, ExperimentArm, ProviderConfig
from llm_app.providers import ResolvedProvider, resolve_provider
from llm_app.testing.factories import ProviderFactory

N_IDS = 10_000
# Chi-square critical value for 2 degrees of freedom at p = 0.001.
CHI2_CRITICAL_DF2 = 13.816


def unsaved_arm(pk: int, weight: int, *, enabled: bool = True) -> ExperimentArm:
    provider = ProviderConfig(pk=pk, name=f"p{pk}", model="openai/gpt-4o-mini", enabled=enabled)
    return ExperimentArm(pk=pk, weight=weight, provider=provider)


def shares(counts: Counter, n: int) -> dict:
    return {key: count / n for key, count in counts.items()}


# --- Pure assignment ---------------------------------------------------------------


def test_weights_one_to_three_give_a_quarter_within_two_points_over_10000_ids():
    counts = Counter(pick_weighted(assignment_key("tone", uid), [1, 3]) for uid in range(N_IDS))
    assert set(counts) == {0, 1}
    assert abs(counts[0] / N_IDS - 0.25) <= 0.02
    assert abs(counts[1] / N_IDS - 0.75) <= 0.02


def test_three_arms_pass_a_chi_square_test_against_their_weights():
    weights = [1, 2, 5]
    arms = [unsaved_arm(pk, w) for pk, w in zip([7, 3, 12], weights, strict=True)]
    counts = Counter(assign_arm("speed", uid, arms).pk for uid in range(1, N_IDS + 1))
    # Arms are taken in id order (3, 7, 12), so the weights line up as 2, 1, 5.
    expected = {3: N_IDS * 2 / 8, 7: N_IDS * 1 / 8, 12: N_IDS * 5 / 8}
    chi2 = sum((counts[pk] - expected[pk]) ** 2 / expected[pk] for pk in expected)
    assert chi2 < CHI2_CRITICAL_DF2, (counts, chi2)


def test_arm_order_is_by_id_not_by_the_order_given():
    arms = [unsaved_arm(1, 1), unsaved_arm(2, 3)]
    for uid in range(200):
        assert assign_arm("tone", uid, arms) is assign_arm("tone", uid, list(reversed(arms)))


def test_same_learner_same_arm_and_each_experiment_shuffles_independently():
    arms = [unsaved_arm(1, 1), unsaved_arm(2, 1)]
    first = [assign_arm("tone", uid, arms).pk for uid in range(N_IDS)]
    again = [assign_arm("tone", uid, arms).pk for uid in range(N_IDS)]
    other = [assign_arm("speed", uid, arms).pk for uid in range(N_IDS)]
    assert first == again
    # Independent experiments agree about half the time, not always (or never).
    agreement = sum(a == b for a, b in zip(first, other, strict=True)) / N_IDS
    assert abs(agreement - 0.5) <= 0.03


def test_assignment_is_the_same_in_other_processes_with_other_hash_seeds():
    """Python's hash() is salted per process; the assignment must not depend on it."""
    script = (
        "import django; django.setup()\n"
        "from llm_app.experiments import pick_weighted, assignment_key\n"
        "print(','.join(str(pick_weighted(assignment_key('tone', u), [1, 3, 2]))"
        " for u in range(300)))\n"
    )
    here = ",".join(str(pick_weighted(assignment_key("tone", u), [1, 3, 2])) for u in range(300))
    for seed in ("1", "12345"):
        env = {**os.environ, "PYTHONHASHSEED": seed}
        env.setdefault("DJANGO_SETTINGS_MODULE", "tutor_project.settings")
        result = subprocess.run(  # noqa: S603 - fixed arguments
            [sys.executable, "-c", script],
            cwd=settings.BASE_DIR,
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert result.returncode == 0, result.stderr[-2000:]
        assert result.stdout.strip() == here


def test_a_disabled_arm_moves_only_its_own_learners_spread_over_enabled_arms():
    arms = [unsaved_arm(1, 1), unsaved_arm(2, 1), unsaved_arm(3, 2)]
    before = {uid: assign_arm("tone", uid, arms).pk for uid in range(N_IDS)}
    arms[1].provider.enabled = False
    after = {uid: assign_arm("tone", uid, arms).pk for uid in range(N_IDS)}

    assert 2 not in after.values()
    moved = [uid for uid in before if before[uid] != after[uid]]
    assert moved == [uid for uid in before if before[uid] == 2]
    # The re-hashed learners follow the enabled arms' weights (1:2).
    to_arm_1 = sum(after[uid] == 1 for uid in moved) / len(moved)
    assert abs(to_arm_1 - 1 / 3) <= 0.04


def test_all_arms_disabled_or_none_gives_no_arm():
    assert assign_arm("tone", 1, []) is None
    disabled = [unsaved_arm(1, 1, enabled=False), unsaved_arm(2, 1, enabled=False)]
    assert all(assign_arm("tone", uid, disabled) is None for uid in range(50))


def test_pick_weighted_rejects_weights_that_cannot_be_sampled():
    with pytest.raises(ValueError, match="Weights"):
        pick_weighted("x", [0, 0])
    with pytest.raises(ValueError, match="Weights"):
        pick_weighted("x", [2, -1])


# --- arm_for against the database -----------------------------------------------


@pytest.fixture
def providers(db):
    return (
        ProviderFactory(name="Claude", model="anthropic/claude-sonnet-4-20250514"),
        ProviderFactory(name="Gemini", model="gemini/gemini-2.5-flash"),
    )


@pytest.fixture
def running(providers):
    experiment = Experiment.objects.create(name="tone", is_active=True)
    claude, gemini = providers
    ExperimentArm.objects.create(experiment=experiment, provider=claude, weight=1)
    ExperimentArm.objects.create(experiment=experiment, provider=gemini, weight=1)
    return experiment


@pytest.fixture
def learners(django_user_model, db):
    return [django_user_model.objects.create_user(username=f"learner{i}") for i in range(40)]


def test_no_user_or_anonymous_user_gets_no_arm_without_a_query(running, django_assert_num_queries):
    with django_assert_num_queries(0):
        assert arm_for(None) is None
        assert arm_for(AnonymousUser()) is None


def test_no_active_experiment_gives_no_arm(providers, learners):
    experiment = Experiment.objects.create(name="paused", is_active=False)
    ExperimentArm.objects.create(experiment=experiment, provider=providers[0])
    assert arm_for(learners[0]) is None


def test_active_experiment_without_arms_gives_no_arm(learners):
    Experiment.objects.create(name="empty", is_active=True)
    assert arm_for(learners[0]) is None


def test_arm_for_is_stable_uses_both_arms_and_one_query(
    running, learners, django_assert_num_queries
):
    with django_assert_num_queries(1):
        arm = arm_for(learners[0])
    assert arm is not None
    assert arm.experiment_id == running.pk
    assert all(arm_for(learners[0]).pk == arm.pk for _ in range(5))
    arms = list(running.arms.select_related("provider"))
    chosen = {arm_for(learner).pk for learner in learners}
    assert chosen == {a.pk for a in arms}
    for learner in learners:
        assert arm_for(learner).pk == assign_arm("tone", learner.pk, arms).pk


def test_disabling_a_provider_reassigns_its_learners_to_enabled_arms(running, learners):
    claude_arm, gemini_arm = running.arms.order_by("id")
    before = {learner.pk: arm_for(learner).pk for learner in learners}
    on_gemini = [pk for pk, arm in before.items() if arm == gemini_arm.pk]
    assert on_gemini, "fixture should put someone on each arm"
    ProviderConfig.objects.filter(pk=gemini_arm.provider_id).update(enabled=False)
    after = {learner.pk: arm_for(learner).pk for learner in learners}
    assert set(after.values()) == {claude_arm.pk}
    ProviderConfig.objects.filter(pk=gemini_arm.provider_id).update(enabled=True)
    assert {learner.pk: arm_for(learner).pk for learner in learners} == before


def test_switching_experiments_applies_to_the_next_call(running, providers, learners):
    other = Experiment.objects.create(name="speed")
    only_arm = ExperimentArm.objects.create(experiment=other, provider=providers[1], weight=3)
    assert arm_for(learners[0]).experiment_id == running.pk
    experiments.activate(other)
    assert arm_for(learners[0]).pk == only_arm.pk
    experiments.deactivate(Experiment.objects.all())
    assert arm_for(learners[0]) is None


# --- Resolution order ---------------------------------------------------------------


def test_resolve_provider_uses_the_arm_and_records_it(running, learners):
    ProviderConfig.objects.create(name="Default", model="openai/gpt-4o-mini", is_default=True)
    learner = learners[0]
    arm = arm_for(learner)
    resolved = resolve_provider(user=learner)
    assert resolved.name == arm.provider.name
    assert resolved.model == arm.provider.model
    assert resolved.experiment_arm_id == arm.pk


def test_explicit_provider_still_wins_over_the_experiment(running, learners):
    resolved = resolve_provider("Claude", user=learners[1])
    assert resolved.name == "Claude"
    assert resolved.experiment_arm_id is None
    explicit = ResolvedProvider(model="openai/gpt-4o")
    assert resolve_provider(explicit, user=learners[1]) is explicit


def test_without_an_arm_resolution_falls_through_to_the_admin_default(running, learners):
    ProviderConfig.objects.create(name="Default", model="openai/gpt-4o-mini", is_default=True)
    experiments.deactivate(Experiment.objects.all())
    resolved = resolve_provider(user=learners[0])
    assert resolved.name == "Default"
    assert resolved.experiment_arm_id is None
    assert resolve_provider(user=None).name == "Default"


# --- At most one active ---------------------------------------------------------------


def test_activate_switches_atomically_to_the_only_active_experiment(running):
    other = Experiment.objects.create(name="speed")
    experiments.activate(other)
    assert list(Experiment.objects.filter(is_active=True)) == [other]
    assert other.is_active
    experiments.activate(other)  # idempotent
    assert list(Experiment.objects.filter(is_active=True)) == [other]


def test_database_refuses_a_second_active_experiment(running):
    with pytest.raises(IntegrityError), transaction.atomic():
        Experiment.objects.create(name="second", is_active=True)
    assert Experiment.objects.filter(is_active=True).count() == 1


def test_model_validation_explains_the_one_active_rule(running):
    second = Experiment(name="second", is_active=True)
    with pytest.raises(ValidationError, match="Only one experiment can be active"):
        second.full_clean()


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_concurrent_activations_serialise_instead_of_failing(postgres_db):
    """Two staff activating different experiments at once: no constraint error, one winner."""
    import threading

    from django.db import connection

    names = ["a", "b", "c", "d"]
    for name in names:
        Experiment.objects.create(name=name)
    errors: list[BaseException] = []
    barrier = threading.Barrier(len(names))

    def flip(name: str) -> None:
        try:
            experiment = Experiment.objects.get(name=name)
            barrier.wait(timeout=10)
            for _ in range(10):
                experiments.activate(experiment)
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=flip, args=(name,)) for name in names]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert errors == []
    assert Experiment.objects.filter(is_active=True).count() == 1
