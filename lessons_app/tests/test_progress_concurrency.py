"""Concurrent first visits and moves on PostgreSQL, where requests really run in parallel."""

from __future__ import annotations

import pytest

from lessons_app import services
from lessons_app.models import Conversation, Lesson, LessonProgress, Message
from lessons_app.tests.factories import (
    ArticleStageFactory,
    ChatStageFactory,
    LessonFactory,
    VideoStageFactory,
)

ROUNDS = 20


@pytest.fixture
def lesson() -> Lesson:
    lesson = LessonFactory(title="Race", slug="race")
    for position, (factory, title) in enumerate(
        [(ArticleStageFactory, "One"), (VideoStageFactory, "Two"), (ChatStageFactory, "Three")]
    ):
        factory(lesson=lesson, position=position, title=title)
    return lesson


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_concurrent_first_visits_create_one_progress_row(
    postgres_db, run_together, lesson, django_user_model
):
    for round_number in range(ROUNDS):
        user = django_user_model.objects.create_user(username=f"racer{round_number}")
        errors = run_together(
            lambda _index, user=user: services.get_or_start_progress(user, lesson)
        )
        assert errors == [], f"round {round_number}: {errors!r}"
        assert LessonProgress.objects.filter(user=user, lesson=lesson).count() == 1
        assert Conversation.objects.filter(user=user, lesson=lesson).count() <= 1
        started = Message.objects.filter(conversation__user=user, role=Message.Role.SYSTEM)
        assert list(started.values_list("content", flat=True)) == ["Started reading: One"]


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_concurrent_advances_never_skip_or_lose_a_stage(
    postgres_db, run_together, lesson, django_user_model
):
    for round_number in range(ROUNDS // 2):
        user = django_user_model.objects.create_user(username=f"clicker{round_number}")
        services.get_or_start_progress(user, lesson)
        errors = run_together(lambda _index, user=user: services.advance(user, lesson))
        assert errors == [], f"round {round_number}: {errors!r}"
        progress = LessonProgress.objects.get(user=user, lesson=lesson)
        # Two unguarded advances from the first stage: two moves, one after the other.
        assert progress.current_stage.title == "Three"
        texts = list(
            Message.objects.filter(conversation__user=user)
            .order_by("created_at", "id")
            .values_list("content", flat=True)
        )
        assert texts == [
            "Started reading: One",
            "Finished reading: One",
            "Started watching: Two",
            "Finished watching: Two",
            "Started chatting: Three",
        ]


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_concurrent_guarded_advances_move_once(
    postgres_db, run_together, lesson, django_user_model
):
    first = services.ordered_stages(lesson)[0]
    for round_number in range(ROUNDS // 2):
        user = django_user_model.objects.create_user(username=f"double{round_number}")
        services.get_or_start_progress(user, lesson)
        errors = run_together(
            lambda _index, user=user: services.advance(user, lesson, from_stage_id=first.pk)
        )
        assert errors == [], f"round {round_number}: {errors!r}"
        progress = LessonProgress.objects.get(user=user, lesson=lesson)
        assert progress.current_stage.title == "Two"
        texts = list(
            Message.objects.filter(conversation__user=user)
            .order_by("created_at", "id")
            .values_list("content", flat=True)
        )
        # One move, recorded once: the second click saw it had already happened.
        assert texts == ["Started reading: One", "Finished reading: One", "Started watching: Two"]
