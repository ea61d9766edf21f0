"""What an experiment's arms did for learning, beside what learners thought of the replies.

Thumbs say whether a reply pleased; these say whether learners learned: objectives
the tutor recorded as met, quiz answers it judged correct, hints it had to reveal,
each counted in the arm of the reply that recorded it (a record's ``message``), and
the evaluation score (``manage.py tutor_eval``) of each arm's provider. A record
saved without its reply counts in no arm. Five queries, whatever the number of arms.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass

from django.db.models import Count, Q

from lessons_app.models import AnswerRecord, EvalRun, HintRecord, ObjectiveRecord
from llm_app.models import Experiment

ARM = "message__experiment_arm"


@dataclass(frozen=True)
class LearningSignals:
    objectives_met: int = 0
    answers: int = 0
    correct_answers: int = 0
    hints: int = 0
    # The mean of the latest evaluation score per lesson of the arm's provider; None: no run.
    eval_score: float | None = None
    # How many lessons that mean is over.
    eval_lessons: int = 0

    @property
    def quiz_correct_rate(self) -> float | None:
        return self.correct_answers / self.answers if self.answers else None


def _counts(model, experiment: Experiment, **extra) -> dict[int, dict[str, int]]:
    rows = (
        model.objects.filter(**{f"{ARM}__experiment": experiment})
        .values(ARM)
        .annotate(n=Count("pk"), **extra)
    )
    return {row[ARM]: row for row in rows}


def latest_eval_scores(provider_ids: Iterable[int]) -> dict[int, tuple[float, int]]:
    """Per provider: the mean of its latest scored run on each lesson, and how many lessons."""
    latest: dict[tuple[int, int], float] = {}
    runs = (
        EvalRun.objects.filter(provider__in=list(provider_ids), score__isnull=False)
        .order_by("-started_at", "-id")
        .values_list("provider_id", "lesson_id", "score")
    )
    for provider_id, lesson_id, score in runs:
        latest.setdefault((provider_id, lesson_id), score)
    by_provider: dict[int, list[float]] = defaultdict(list)
    for (provider_id, _), score in latest.items():
        by_provider[provider_id].append(score)
    return {pid: (sum(scores) / len(scores), len(scores)) for pid, scores in by_provider.items()}


def learning_signals(experiment: Experiment) -> dict[int, LearningSignals]:
    """Per arm id (every arm of ``experiment``, none left out), its learning signals."""
    arms = list(experiment.arms.values_list("pk", "provider_id"))
    objectives = _counts(ObjectiveRecord, experiment)
    answers = _counts(AnswerRecord, experiment, correct_n=Count("pk", filter=Q(correct=True)))
    hints = _counts(HintRecord, experiment)
    scores = latest_eval_scores(provider_id for _, provider_id in arms)
    signals = {}
    for arm_id, provider_id in arms:
        score, lessons = scores.get(provider_id, (None, 0))
        signals[arm_id] = LearningSignals(
            objectives_met=objectives.get(arm_id, {}).get("n", 0),
            answers=answers.get(arm_id, {}).get("n", 0),
            correct_answers=answers.get(arm_id, {}).get("correct_n", 0),
            hints=hints.get(arm_id, {}).get("n", 0),
            eval_score=score,
            eval_lessons=lessons,
        )
    return signals
