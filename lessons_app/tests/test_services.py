"""Progress services: starting, moving on and back, completion and the stage markers."""

from __future__ import annotations

import pytest
from django.db import IntegrityError, transaction
from django.http import Http404

from lessons_app import services
from lessons_app.models import Conversation, Lesson, LessonProgress, Message, Stage
from lessons_app.tests.factories import (
    ArticleStageFactory,
    ChatStageFactory,
    LearnerFactory,
    LessonFactory,
    VideoStageFactory,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def user():
    return LearnerFactory(username="ada", password="unused-password-93")


@pytest.fixture
def lesson() -> Lesson:
    lesson = LessonFactory(title="Fractions", slug="fractions")
    # Created out of order, to check that stages follow their positions.
    ChatStageFactory(lesson=lesson, position=5, title="Discuss")
    ArticleStageFactory(lesson=lesson, position=1, title="Read")
    VideoStageFactory(lesson=lesson, position=2, title="Watch")
    return lesson


def titles(lesson: Lesson) -> list[str]:
    return [stage.title for stage in services.ordered_stages(lesson)]


def current_title(progress: LessonProgress) -> str:
    progress.refresh_from_db()
    return progress.current_stage.title


def marker_texts(user, lesson: Lesson) -> list[str]:
    return list(
        Message.objects.filter(conversation__user=user, conversation__lesson=lesson)
        .order_by("created_at", "id")
        .values_list("content", flat=True)
    )


def test_stages_are_ordered_by_position(lesson):
    assert titles(lesson) == ["Read", "Watch", "Discuss"]


def test_first_visit_starts_on_the_first_stage_with_one_marker(user, lesson):
    progress = services.get_or_start_progress(user, lesson)
    assert progress.current_stage.title == "Read"
    assert not progress.completed
    again = services.get_or_start_progress(user, lesson)
    assert again.pk == progress.pk
    assert LessonProgress.objects.count() == 1
    assert marker_texts(user, lesson) == ["Started reading: Read"]
    marker = Message.objects.get()
    assert marker.role == Message.Role.SYSTEM
    assert marker.stage.title == "Read"


def test_start_on_a_lesson_without_stages(user):
    empty = Lesson.objects.create(title="Empty", slug="empty", is_published=True)
    progress = services.get_or_start_progress(user, empty)
    assert progress.current_stage is None
    assert services.advance(user, empty).current_stage is None
    assert services.go_back(user, empty).current_stage is None
    assert not Message.objects.exists()


def test_back_on_the_first_stage_stays_put(user, lesson):
    progress = services.get_or_start_progress(user, lesson)
    services.go_back(user, lesson)
    assert current_title(progress) == "Read"
    assert marker_texts(user, lesson) == ["Started reading: Read"]


def test_advance_walks_the_stages_then_completes(user, lesson):
    progress = services.get_or_start_progress(user, lesson)
    services.advance(user, lesson)
    assert current_title(progress) == "Watch"
    services.advance(user, lesson)
    assert current_title(progress) == "Discuss"
    progress.refresh_from_db()
    assert not progress.completed
    assert progress.completed_at is None

    services.advance(user, lesson)
    progress.refresh_from_db()
    assert progress.completed
    assert progress.completed_at is not None
    assert progress.current_stage.title == "Discuss"
    assert marker_texts(user, lesson) == [
        "Started reading: Read",
        "Finished reading: Read",
        "Started watching: Watch",
        "Finished watching: Watch",
        "Started chatting: Discuss",
        "Finished chatting: Discuss",
        "Completed the lesson: Fractions",
    ]


def test_advancing_a_completed_lesson_changes_nothing(user, lesson):
    services.get_or_start_progress(user, lesson)
    for _ in range(3):
        services.advance(user, lesson)
    completed_at = LessonProgress.objects.get().completed_at
    count = Message.objects.count()

    progress = services.advance(user, lesson)
    assert progress.completed_at == completed_at
    assert Message.objects.count() == count


def test_going_back_after_completion_keeps_it_completed(user, lesson):
    services.get_or_start_progress(user, lesson)
    for _ in range(3):
        services.advance(user, lesson)
    progress = services.go_back(user, lesson)
    assert progress.current_stage.title == "Watch"
    assert progress.completed
    assert marker_texts(user, lesson)[-1] == "Started watching: Watch"


def test_advance_without_a_visit_starts_the_lesson_first(user, lesson):
    progress = services.advance(user, lesson)
    assert progress.current_stage.title == "Watch"
    assert marker_texts(user, lesson) == [
        "Started reading: Read",
        "Finished reading: Read",
        "Started watching: Watch",
    ]


def test_from_stage_guard_ignores_a_stale_move(user, lesson):
    read, watch, _discuss = services.ordered_stages(lesson)
    services.get_or_start_progress(user, lesson)
    services.advance(user, lesson, from_stage_id=read.pk)
    services.advance(user, lesson, from_stage_id=read.pk)  # seen on the old page
    assert LessonProgress.objects.get().current_stage == watch
    services.go_back(user, lesson, from_stage_id=read.pk)  # also stale
    assert LessonProgress.objects.get().current_stage == watch
    services.go_back(user, lesson, from_stage_id=watch.pk)
    assert LessonProgress.objects.get().current_stage == read


def test_a_deleted_current_stage_falls_back_to_the_first(user, lesson):
    progress = services.get_or_start_progress(user, lesson)
    services.advance(user, lesson)
    Stage.objects.get(title="Watch").delete()  # current stage becomes NULL
    progress.refresh_from_db()
    assert progress.current_stage is None
    services.advance(user, lesson)
    assert current_title(progress) == "Discuss"


def test_one_conversation_per_user_and_lesson(user, lesson):
    services.get_or_start_progress(user, lesson)
    services.advance(user, lesson)
    assert Conversation.objects.count() == 1
    assert services.get_conversation(user, lesson) == Conversation.objects.get()


def test_the_database_refuses_a_second_progress_row_for_a_user_and_lesson(user, lesson):
    LessonProgress.objects.create(user=user, lesson=lesson)
    with pytest.raises(IntegrityError), transaction.atomic():
        LessonProgress.objects.create(user=user, lesson=lesson)
    assert LessonProgress.objects.count() == 1


def test_progress_is_per_user(user, lesson, django_user_model):
    other = django_user_model.objects.create_user(username="grace", password="unused-93")
    services.get_or_start_progress(user, lesson)
    services.advance(user, lesson)
    other_progress = services.get_or_start_progress(other, lesson)
    assert other_progress.current_stage.title == "Read"
    assert LessonProgress.objects.count() == 2


def test_published_selectors(lesson):
    draft = Lesson.objects.create(title="Draft", slug="draft", is_published=False)
    assert list(services.published_lessons()) == [lesson]
    assert services.get_published_lesson_or_404("fractions") == lesson
    with pytest.raises(Http404):
        services.get_published_lesson_or_404(draft.slug)
    with pytest.raises(Http404):
        services.get_published_lesson_or_404("missing")


def test_staff_see_drafts_learners_do_not(user, django_user_model):
    draft = Lesson.objects.create(title="Draft", slug="draft", is_published=False)
    staff = django_user_model.objects.create_user(username="s", password="x-93", is_staff=True)
    assert services.get_visible_lesson_or_404(staff, "draft") == draft
    with pytest.raises(Http404):
        services.get_visible_lesson_or_404(user, "draft")
    with pytest.raises(Http404):
        services.get_visible_lesson_or_404(staff, "missing")


def test_catalogue_entries(user, lesson):
    Lesson.objects.create(title="Draft", slug="draft", is_published=False)
    [entry] = services.catalogue_entries(user)
    assert (entry.lesson, entry.stage_count, entry.started, entry.completed) == (
        lesson,
        3,
        False,
        False,
    )
    services.advance(user, lesson)
    [entry] = services.catalogue_entries(user)
    assert (entry.started, entry.completed, entry.stage_number) == (True, False, 2)
