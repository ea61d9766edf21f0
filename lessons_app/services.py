"""Moving a learner through a lesson, and the selectors the learner pages need.

Progress is only ever changed here, on the server, from what is saved: the
pages send "next" or "back", never a stage number, so a stale tab or a crafted
request can't skip stages. Each move also leaves a stage marker in the
learner's tutor conversation, so the chat history shows where they were.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar

from django.db import IntegrityError, models, transaction
from django.db.models import Prefetch
from django.http import Http404
from django.utils import timezone
from django.utils.translation import gettext, gettext_noop

from lessons_app.models import Conversation, Lesson, LessonProgress, Message, Stage
from lessons_app.stage_kinds import kind_of
from llm_app.providers import resolve_provider

if TYPE_CHECKING:
    from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
    from django.db.models import QuerySet

    User = AbstractBaseUser | AnonymousUser

M = TypeVar("M", bound=models.Model)

# {activity} is what the learner does on the stage's kind (lessons_app.stage_kinds).
# Saved in the learner's language at the time (the request's, or the chat socket's).
STARTED_STAGE_MARKER = gettext_noop("Started {activity}: {title}")
FINISHED_STAGE_MARKER = gettext_noop("Finished {activity}: {title}")
COMPLETED_LESSON_MARKER = gettext_noop("Completed the lesson: {title}")
# The backend every login of this site goes through (signing up, the log-in page, the
# admin): the log-in throttle's backend, listed first, only refuses.
MODEL_BACKEND = "django.contrib.auth.backends.ModelBackend"


# --- Selectors ---------------------------------------------------------------


def visible_lesson_lookups(*, staff: bool, prefix: str = "") -> dict[str, Any]:
    """The filter a lesson passes if ``staff`` (or not) may open it, its fields after ``prefix``.

    Staff may preview drafts; everyone else sees only published lessons. For a query of
    lessons (no prefix) or of rows that belong to one (``"lesson__"``).
    """
    return {} if staff else {f"{prefix}is_published": True}


def published_lessons() -> QuerySet[Lesson]:
    """The lessons learners may see, in catalogue order."""
    return Lesson.objects.filter(**visible_lesson_lookups(staff=False)).order_by(
        "position", "title"
    )


def _lesson_or_404(slug: str, *, staff: bool) -> Lesson:
    try:
        return Lesson.objects.get(slug=slug, **visible_lesson_lookups(staff=staff))
    except Lesson.DoesNotExist:
        raise Http404("No such lesson.") from None


def get_published_lesson_or_404(slug: str) -> Lesson:
    """A published lesson; unpublished ones 404 so drafts don't leak by guessing slugs."""
    return _lesson_or_404(slug, staff=False)


def get_visible_lesson_or_404(user: User, slug: str) -> Lesson:
    """Staff may preview drafts; everyone else sees only published lessons."""
    return _lesson_or_404(slug, staff=getattr(user, "is_staff", False))


# The order learners meet a lesson's stages in (ties on position: by id, the same order
# lessons_app.content.previous_stage uses).
STAGE_ORDER = ("position", "id")


def ordered_stages(lesson: Lesson) -> list[Stage]:
    """The lesson's stages in the order learners meet them (``STAGE_ORDER``)."""
    return list(lesson.stages.order_by(*STAGE_ORDER))


@dataclass(frozen=True)
class CatalogueEntry:
    """One lesson in the catalogue with where this learner is in it."""

    lesson: Lesson
    stage_count: int
    progress: LessonProgress | None = None
    stage_number: int | None = None

    @property
    def completed(self) -> bool:
        return self.progress is not None and self.progress.completed

    @property
    def started(self) -> bool:
        return self.progress is not None


def catalogue_entries(user: User) -> list[CatalogueEntry]:
    """The published lessons, each with the user's progress when they are signed in."""
    lessons = list(
        published_lessons().prefetch_related(
            Prefetch("stages", queryset=Stage.objects.order_by("position", "id"))
        )
    )
    progress: dict[int, LessonProgress] = {}
    if getattr(user, "is_authenticated", False):
        rows = LessonProgress.objects.filter(user=user, lesson__in=lessons)
        progress = {row.lesson_id: row for row in rows}
    entries = []
    for lesson in lessons:
        stages = list(lesson.stages.all())
        row = progress.get(lesson.pk)
        number = current_stage_index(row, stages) + 1 if row is not None and stages else None
        entries.append(CatalogueEntry(lesson, len(stages), row, number))
    return entries


def current_stage_index(progress: LessonProgress, stages: list[Stage]) -> int:
    """Where the learner is; a deleted or foreign current stage falls back to the first."""
    ids = [stage.pk for stage in stages]
    if progress.current_stage_id in ids:
        return ids.index(progress.current_stage_id)
    return 0


def tutor_is_demo(user: User) -> bool:
    """Whether ``user``'s next chat turn goes to the offline demo tutor, so the page can say so."""
    return resolve_provider(user=user).is_demo


def lesson_history(user: User, lesson: Lesson) -> QuerySet[Message]:
    """The learner's chat history for ``lesson``, stage markers included, oldest first."""
    return Message.objects.filter(conversation__user=user, conversation__lesson=lesson).order_by(
        "created_at", "id"
    )


# --- Services ----------------------------------------------------------------


def unique_row(queryset: QuerySet[M]) -> M | None:
    """The row of a query on a unique key, or ``None``.

    Not ``first()``: it orders by the primary key, and building that ordering costs more
    than the query itself takes to run (every chat socket reads rows like these).
    """
    return next(iter(queryset[:1]), None)


def _get_or_create_race_safe(model: type[M], **keys) -> M:
    """``get_or_create`` that survives two requests creating the same row at once.

    The row is read first, outside any transaction: on SQLite a transaction takes the
    database's one write lock (``IMMEDIATE``), and every socket and turn asks for rows
    that nearly always exist.
    """
    existing = unique_row(model.objects.filter(**keys))
    if existing is not None:
        return existing
    return _create_race_safe(model, **keys)


def _create_race_safe(model: type[M], **keys) -> M:
    """The row created, or the one a concurrent request created first.

    The unique constraint decides who wins; the loser's insert fails inside its own
    savepoint (so an enclosing transaction stays usable) and it reads the winner's row
    instead.
    """
    try:
        with transaction.atomic():
            return model.objects.create(**keys)
    except IntegrityError:
        return model.objects.get(**keys)


def get_conversation(user: User, lesson: Lesson) -> Conversation:
    """The learner's one tutor conversation for ``lesson``, created on first need."""
    return _get_or_create_race_safe(Conversation, user=user, lesson=lesson)


def start_conversation(user: User, lesson: Lesson) -> Conversation:
    """:func:`get_conversation` for a caller that has just found none: no second look."""
    return _create_race_safe(Conversation, user=user, lesson=lesson)


def _record_marker(conversation: Conversation, text: str, stage: Stage | None) -> Message:
    return Message.objects.create(
        conversation=conversation,
        role=Message.Role.SYSTEM,
        content=text,
        stage=stage,
        status=Message.Status.COMPLETE,
    )


def _stage_marker(template: str, stage: Stage) -> str:
    return gettext(template).format(activity=gettext(kind_of(stage).activity), title=stage.title)


def get_or_start_progress(user: User, lesson: Lesson) -> LessonProgress:
    """The learner's progress on ``lesson``, starting it on their first visit."""
    existing = unique_row(LessonProgress.objects.filter(user=user, lesson=lesson))
    if existing is not None:
        return existing
    return start_progress(user, lesson)


def start_progress(
    user: User, lesson: Lesson, *, conversation: Conversation | None = None
) -> LessonProgress:
    """Start the learner on ``lesson`` (a caller that found no progress), or read the
    progress another request started first.

    A double-click or two open tabs can make two first visits at once; the
    unique (user, lesson) constraint lets exactly one of them create the row
    (and its start marker) and the other reads that row back instead of
    crashing or starting the lesson twice. ``conversation``: the learner's on
    ``lesson``, if the caller has it (the start marker goes there).
    """
    try:
        with transaction.atomic():
            stages = ordered_stages(lesson)
            first = stages[0] if stages else None
            progress = LessonProgress.objects.create(user=user, lesson=lesson, current_stage=first)
            if first is not None:
                conversation = conversation or get_conversation(user, lesson)
                _record_marker(conversation, _stage_marker(STARTED_STAGE_MARKER, first), first)
            return progress
    except IntegrityError:
        return LessonProgress.objects.get(user=user, lesson=lesson)


def _lock_progress(user: User, lesson: Lesson) -> LessonProgress:
    """Start (if needed) and lock the progress row for the rest of the transaction.

    The lock makes concurrent moves queue up, so two quick "next" clicks move
    two stages one after the other instead of both moving from the same one.
    """
    progress = get_or_start_progress(user, lesson)
    # No select_related: PostgreSQL can't lock the nullable side of an outer join.
    return LessonProgress.objects.select_for_update().get(pk=progress.pk)


@transaction.atomic
def advance(user: User, lesson: Lesson, *, from_stage_id: int | None = None) -> LessonProgress:
    """Move the learner on from the stage they are on, completing the lesson after the last.

    ``from_stage_id`` says which stage the caller saw the learner on; if they
    have moved since (a double-clicked Next, or the tutor moving them on while
    they click), nothing happens, so one intent never moves them two stages.
    Finishing an already completed lesson changes nothing either.
    """
    progress = _lock_progress(user, lesson)
    stages = ordered_stages(lesson)
    if not stages:
        return progress
    index = current_stage_index(progress, stages)
    current = stages[index]
    if from_stage_id is not None and from_stage_id != current.pk:
        return progress
    is_last = index == len(stages) - 1
    if is_last and progress.completed:
        return progress

    conversation = get_conversation(user, lesson)
    _record_marker(conversation, _stage_marker(FINISHED_STAGE_MARKER, current), current)
    if is_last:
        progress.current_stage = current
        progress.completed = True
        progress.completed_at = timezone.now()
        _record_marker(
            conversation, gettext(COMPLETED_LESSON_MARKER).format(title=lesson.title), current
        )
    else:
        following = stages[index + 1]
        progress.current_stage = following
        _record_marker(conversation, _stage_marker(STARTED_STAGE_MARKER, following), following)
    progress.save()
    return progress


@transaction.atomic
def go_back(user: User, lesson: Lesson, *, from_stage_id: int | None = None) -> LessonProgress:
    """Return the learner to the stage before the one they are on.

    Going back re-enters that stage, so it gets a fresh "Started" marker; it
    leaves completion alone, because a learner revisiting a finished lesson
    has still finished it. ``from_stage_id`` guards against repeats as in
    :func:`advance`.
    """
    progress = _lock_progress(user, lesson)
    stages = ordered_stages(lesson)
    if not stages:
        return progress
    index = current_stage_index(progress, stages)
    if from_stage_id is not None and from_stage_id != stages[index].pk:
        return progress
    if index == 0:
        if progress.current_stage_id != stages[0].pk:
            progress.current_stage = stages[0]
            progress.save()
        return progress
    previous = stages[index - 1]
    progress.current_stage = previous
    conversation = get_conversation(user, lesson)
    _record_marker(conversation, _stage_marker(STARTED_STAGE_MARKER, previous), previous)
    progress.save()
    return progress
