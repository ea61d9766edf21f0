"""A/B experiments: which provider a learner gets while an experiment is active.

Assignment is a pure function of the experiment's name, the learner's id and
the arms (ordered by id, with their weights). It uses SHA-256 rather than
Python's ``hash()``, which is salted per process, so every worker and every
restart puts a learner in the same arm. Nothing is cached: activating,
deactivating or editing an experiment applies to the very next message.

Consequences staff should know (also shown in the admin's help text):

- Changing weights, or adding or removing arms, of a running experiment moves
  some learners to another arm, because the cumulative weight boundaries move.
- An arm whose provider is disabled is skipped: only the learners hashed into
  that arm are re-hashed (with a different salt) among the arms whose
  providers are enabled, in proportion to their weights. Learners of enabled
  arms keep their arm. Re-enabling the provider moves its learners back.
- With no active experiment, no arms, or every arm's provider disabled, the
  learner gets no arm and resolution falls through to the admin's default.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from typing import TYPE_CHECKING

from django.db import transaction

from llm_app import revisions
from llm_app.models import Experiment, ExperimentArm

if TYPE_CHECKING:
    from django.db.models import QuerySet

# The re-hash of a disabled arm's learners must not correlate with the first
# hash, or they would all land on whichever enabled arm covers that range.
_REHASH_SALT = "enabled-arms"


def assignment_key(experiment_name: str, user_id: int) -> str:
    return f"{experiment_name}:{user_id}"


def pick_weighted(key: str, weights: Sequence[int]) -> int:
    """Index of the bucket ``key`` falls in when buckets are sized by ``weights``.

    The first 64 bits of SHA-256 are scaled onto ``[0, sum(weights))`` (a
    multiply-and-shift rather than a modulo, so there is no modulo bias), then
    looked up among the cumulative weights.
    """
    total = sum(weights)
    if total <= 0 or any(weight < 0 for weight in weights):
        raise ValueError("Weights must be non-negative and add up to more than zero.")
    digest = hashlib.sha256(key.encode("utf-8")).digest()
    point = (int.from_bytes(digest[:8], "big") * total) >> 64
    cumulative = 0
    for index, weight in enumerate(weights):
        cumulative += weight
        if point < cumulative:
            return index
    raise AssertionError("unreachable: point < total")  # pragma: no cover


def assign_arm(
    experiment_name: str, user_id: int, arms: Sequence[ExperimentArm]
) -> ExperimentArm | None:
    """The arm for ``user_id`` among ``arms`` (their ``provider`` should be loaded).

    Pure apart from reading ``arm.provider.enabled``, so it can be checked on
    thousands of ids without the database.
    """
    arms = sorted((arm for arm in arms if arm.weight >= 1), key=lambda arm: arm.pk)
    if not arms:
        return None
    key = assignment_key(experiment_name, user_id)
    arm = arms[pick_weighted(key, [arm.weight for arm in arms])]
    if arm.provider.enabled:
        return arm
    enabled = [arm for arm in arms if arm.provider.enabled]
    if not enabled:
        return None
    return enabled[pick_weighted(f"{key}:{_REHASH_SALT}", [arm.weight for arm in enabled])]


def arm_for(user) -> ExperimentArm | None:
    """The active experiment's arm for ``user``, or ``None`` when no experiment applies.

    One query: the active experiment's arms with their providers. Anonymous
    users are never assigned, since their id would not be stable.
    """
    if not can_be_assigned(user):
        return None  # without a query
    return arm_among(active_arms(), user)


def arm_among(arms: Sequence[ExperimentArm], user) -> ExperimentArm | None:
    """The arm for ``user`` among the active experiment's ``arms`` (see :func:`active_arms`)."""
    if not arms or not can_be_assigned(user):
        return None
    # At most one experiment is active (a database constraint), so all arms share it.
    return assign_arm(arms[0].experiment.name, user.pk, arms)


def can_be_assigned(user) -> bool:
    """Signed-in learners only: an anonymous user's id would not be stable."""
    return user is not None and getattr(user, "is_authenticated", False) and user.pk is not None


def active_arms() -> tuple[ExperimentArm, ...]:
    """The active experiment's arms, with their experiment and provider, in one query."""
    return tuple(
        ExperimentArm.objects.filter(experiment__is_active=True)
        .select_related("experiment", "provider")
        .order_by("id")
    )


# --- Switching ---------------------------------------------------------------


@transaction.atomic
def activate(experiment: Experiment) -> None:
    """Make ``experiment`` the only active one, in one transaction.

    Every experiment row is locked first, so two staff activating different
    experiments at once are serialised rather than one failing on the
    at-most-one-active constraint.
    """
    list(Experiment.objects.select_for_update().order_by("pk").values_list("pk", flat=True))
    Experiment.objects.filter(is_active=True).exclude(pk=experiment.pk).update(is_active=False)
    Experiment.objects.filter(pk=experiment.pk).update(is_active=True)
    revisions.bump()
    experiment.is_active = True


@transaction.atomic
def deactivate(experiments: QuerySet[Experiment]) -> int:
    """Stop the given experiments; learners go back to the default provider. Returns how many."""
    stopped = experiments.filter(is_active=True).update(is_active=False)
    if stopped:
        revisions.bump()
    return stopped


def usable_arm_count(experiment: Experiment) -> int:
    """Arms that can take learners now, so the admin can warn about an empty experiment."""
    return experiment.arms.filter(provider__enabled=True, weight__gte=1).count()
