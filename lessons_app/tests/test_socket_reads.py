"""The prepared queries a chat socket opens with give what their ORM forms give.

Field for field and of the same types (SQLite keeps booleans as integers, datetimes and
decimals as text: the converters must have run), for rows with every kind of value a
history shows: a rated reply with its cost, a refused one, a superseded message, nulls.
"""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.db.models import QuerySet
from django.utils import timezone

from lessons_app import services
from lessons_app.models import (
    Conversation,
    LessonProgress,
    Message,
    MessageRating,
    Stage,
    TurnRefusal,
)
from lessons_app.ratings import ratings_of
from lessons_app.tests.chat_helpers import make_lesson, make_user
from lessons_app.tests.factories import LessonFactory
from lessons_app.tutor import socket_reads
from lessons_app.tutor.conversation import serialize_message
from lessons_app.tutor.prepared import PreparedQuery

pytestmark = pytest.mark.django_db


def assert_same_rows(prepared: list, orm: list) -> None:
    assert len(prepared) == len(orm)
    for mine, theirs in zip(prepared, orm, strict=True):
        assert type(mine) is type(theirs)
        for field in type(theirs)._meta.concrete_fields:
            mine_value, their_value = getattr(mine, field.attname), getattr(theirs, field.attname)
            assert mine_value == their_value, field.attname
            assert type(mine_value) is type(their_value), field.attname
        assert mine._state.adding is False and mine._state.db == theirs._state.db


@pytest.fixture
def learner():
    return make_user()


@pytest.fixture
def lesson():
    return make_lesson()


@pytest.fixture
def conversation(learner, lesson):
    return services.get_conversation(learner, lesson)


def test_the_history_reads_as_the_orm_reads_it(learner, lesson, conversation):
    stage = services.ordered_stages(lesson)[1]
    Message.objects.create(conversation=conversation, role=Message.Role.SYSTEM, content="Start")
    asked = Message.objects.create(
        conversation=conversation,
        role=Message.Role.USER,
        content="Where does the mass come from?",
        stage=stage,
        superseded_at=timezone.now(),
    )
    rated = Message.objects.create(
        conversation=conversation,
        role=Message.Role.ASSISTANT,
        content="From the air.",
        stage=stage,
        provider_name="Claude",
        model="anthropic/claude",
        input_tokens=12,
        output_tokens=5,
        cost_usd=Decimal("0.001234"),
        time_to_first_token_ms=300,
    )
    MessageRating.objects.create(message=rated, user=learner, value=-1, comment="Too short")
    refusal = TurnRefusal.objects.create(
        conversation=conversation,
        code=Message.ErrorCode.DAILY_LIMIT,
        provider_name="Claude",
        model="anthropic/claude",
    )
    Message.objects.create(
        conversation=conversation,
        role=Message.Role.ASSISTANT,
        status=Message.Status.ERROR,
        error_code=Message.ErrorCode.DAILY_LIMIT,
        refusal=refusal,
        heartbeat_at=timezone.now() - timedelta(seconds=3),
    )

    messages, ratings = socket_reads.messages_with_ratings(conversation)

    orm = list(conversation.messages.select_related("refusal", "rating").order_by("created_at"))
    assert_same_rows(messages, orm)
    assert_same_rows([messages[3].refusal], [orm[3].refusal])
    assert ratings == ratings_of(orm) == {rated.pk: (-1, "Too short")}
    for staff in (False, True):
        assert [
            serialize_message(m, for_staff=staff, rating=ratings.get(m.pk)) for m in messages
        ] == [serialize_message(m, for_staff=staff, rating=ratings.get(m.pk)) for m in orm]
    assert messages[1].pk == asked.pk and messages[1].conversation is conversation


def test_stages_and_progress_read_as_the_orm_reads_them(learner, lesson):
    Stage.objects.filter(lesson=lesson, kind=Stage.Kind.CHAT).update(
        position=1, show_user_previous_content=False, opening_message="Hello"
    )  # a tie on position: broken by id
    assert socket_reads.progress_of(learner, lesson) is None
    services.get_or_start_progress(learner, lesson)
    LessonProgress.objects.update(completed=True, completed_at=timezone.now())

    stages = socket_reads.stages_of(lesson)
    progress = socket_reads.progress_of(learner, lesson)

    assert_same_rows(stages, services.ordered_stages(lesson))
    assert all(stage.lesson is lesson for stage in stages)
    assert_same_rows([progress], [LessonProgress.objects.get()])


def test_the_conversation_is_found_with_its_lesson_only_where_its_learner_may_open_it(
    learner, lesson, conversation
):
    draft = LessonFactory(slug="draft", is_published=False)
    staff = make_user("teacher", staff=True)
    draft_chat = services.get_conversation(learner, draft)
    staff_chat = services.get_conversation(staff, draft)

    found = socket_reads.conversation_with_lesson(learner, "plants")

    assert_same_rows([found], [conversation])
    assert_same_rows([found.lesson], [lesson])
    assert found.user is learner
    assert draft_chat.pk and socket_reads.conversation_with_lesson(learner, "draft") is None
    assert socket_reads.conversation_with_lesson(staff, "draft").pk == staff_chat.pk
    assert socket_reads.conversation_with_lesson(staff, "plants") is None  # not theirs yet
    assert socket_reads.conversation_with_lesson(learner, "nowhere") is None


def test_a_prepared_query_is_built_once_and_run_with_each_call_s_arguments(learner, lesson):
    other = make_lesson("trees")
    built: list[QuerySet] = []

    def titles(lesson_id):
        built.append(lesson_id)
        return Stage.objects.filter(lesson_id=lesson_id).order_by("id").values_list("title")

    query = PreparedQuery(titles, lesson_id=int)

    assert query.rows(lesson_id=lesson.pk) == [("Photosynthesis",), ("Discuss",)]
    Stage.objects.filter(lesson=other).update(title="Roots")
    assert [tuple(row) for row in query.rows(lesson_id=other.pk)] == [("Roots",), ("Roots",)]
    assert len(built) == 1


def test_an_argument_must_be_one_plain_parameter_of_the_query():
    # Used twice, it could not be told from a value of the query's own.
    twice = PreparedQuery(
        lambda slug: Conversation.objects.filter(lesson__slug=slug, lesson__title=slug).values_list(
            "id"
        ),
        slug=str,
    )
    with pytest.raises(ValueError, match="'slug' is not one parameter"):
        twice.rows(slug="plants")
    with pytest.raises(TypeError, match="int or str"):
        PreparedQuery(lambda when: Message.objects.filter(created_at=when), when=float).rows(
            when=1.0
        )
