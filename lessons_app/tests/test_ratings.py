"""Learners rating the tutor's replies."""

import pytest
from django.contrib.auth.models import AnonymousUser
from django.core.exceptions import PermissionDenied, ValidationError

from lessons_app.models import Conversation, Lesson, Message, MessageRating
from lessons_app.ratings import (
    MAX_COMMENT_CHARS,
    RatingNotAllowed,
    clear_rating,
    rate_message,
    ratings_for,
)
from lessons_app.tests.chat_helpers import make_user
from lessons_app.tests.factories import LearnerFactory, LessonFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def lesson():
    return LessonFactory(title="Plants", slug="plants")


@pytest.fixture
def learner():
    return LearnerFactory(username="learner")


@pytest.fixture
def conversation(learner, lesson):
    return Conversation.objects.create(user=learner, lesson=lesson)


def say(conversation, role=Message.Role.ASSISTANT, status=Message.Status.COMPLETE):
    return Message.objects.create(
        conversation=conversation, role=role, content="Some text.", status=status
    )


@pytest.fixture
def reply(conversation):
    return say(conversation)


def test_learner_rates_their_tutor_reply_with_a_trimmed_comment(learner, reply):
    rating = rate_message(learner, reply.pk, 1, "  Clear and kind.  \n")
    assert rating.pk is not None
    stored = MessageRating.objects.get(message=reply)
    assert (stored.user, stored.value, stored.comment) == (learner, 1, "Clear and kind.")


def test_rating_again_updates_the_single_rating(learner, reply):
    first = rate_message(learner, reply.pk, 1, "good")
    second = rate_message(learner, reply.pk, -1)
    assert second.pk == first.pk
    assert MessageRating.objects.filter(message=reply).count() == 1
    stored = MessageRating.objects.get(message=reply)
    assert (stored.value, stored.comment) == (-1, "")


@pytest.mark.parametrize("value", [0, 2, -2, True, "1", 1.0, None])
def test_only_plus_or_minus_one_is_a_rating(learner, reply, value):
    with pytest.raises(ValidationError, match=r"must be 1 \(thumbs up\) or -1"):
        rate_message(learner, reply.pk, value)
    assert not MessageRating.objects.exists()


def test_comment_at_the_limit_is_kept_and_one_more_character_refused(learner, reply):
    at_limit = "x" * MAX_COMMENT_CHARS
    assert rate_message(learner, reply.pk, 1, f"  {at_limit}  ").comment == at_limit
    with pytest.raises(ValidationError, match=f"{MAX_COMMENT_CHARS} characters or fewer"):
        rate_message(learner, reply.pk, -1, at_limit + "y")
    assert MessageRating.objects.get(message=reply).value == 1


def test_nul_characters_are_dropped_from_comments(learner, reply):
    assert rate_message(learner, reply.pk, 1, "ok\x00 then").comment == "ok then"


@pytest.mark.parametrize("comment", [42, ["a"], {"a": 1}])
def test_a_comment_that_is_not_text_is_refused(learner, reply, comment):
    with pytest.raises(ValidationError, match="must be text"):
        rate_message(learner, reply.pk, 1, comment)


def test_a_missing_comment_means_no_comment(learner, reply):
    assert rate_message(learner, reply.pk, 1, None).comment == ""


def test_someone_elses_reply_looks_missing(reply, lesson):
    stranger = make_user("stranger")
    with pytest.raises(Message.DoesNotExist):
        rate_message(stranger, reply.pk, 1)
    with pytest.raises(Message.DoesNotExist):
        clear_rating(stranger, reply.pk)
    assert not MessageRating.objects.exists()


@pytest.mark.parametrize("message_id", [999_999, "nope", None])
def test_unknown_message_is_missing(learner, reply, message_id):
    with pytest.raises(Message.DoesNotExist):
        rate_message(learner, message_id, 1)


def test_anonymous_user_cannot_rate(reply):
    with pytest.raises(Message.DoesNotExist):
        rate_message(AnonymousUser(), reply.pk, 1)


@pytest.mark.parametrize("role", [Message.Role.USER, Message.Role.SYSTEM])
def test_only_tutor_replies_can_be_rated(learner, conversation, role):
    own = say(conversation, role=role)
    with pytest.raises(RatingNotAllowed, match="Only the tutor's replies"):
        rate_message(learner, own.pk, 1)
    assert issubclass(RatingNotAllowed, PermissionDenied)
    assert not MessageRating.objects.exists()


def test_missing_message_is_reported_before_a_bad_value(reply):
    stranger = make_user("stranger")
    with pytest.raises(Message.DoesNotExist):
        rate_message(stranger, reply.pk, 5)


def test_a_reply_whose_status_is_not_yet_saved_can_be_rated(learner, conversation):
    # The browser gets "done" a moment before the row's final status is written.
    streaming = say(conversation, status=Message.Status.STREAMING)
    assert rate_message(learner, streaming.pk, 1).value == 1


def test_clear_rating_removes_it_and_reports_whether_there_was_one(learner, reply):
    rate_message(learner, reply.pk, -1, "confusing")
    assert clear_rating(learner, reply.pk) is True
    assert not MessageRating.objects.exists()
    assert clear_rating(learner, reply.pk) is False


def test_ratings_for_lists_only_that_conversations_ratings(learner, conversation, lesson):
    up = say(conversation)
    down = say(conversation)
    say(conversation)  # unrated
    rate_message(learner, up.pk, 1)
    rate_message(learner, down.pk, -1, "too long")
    other_lesson = Lesson.objects.create(title="Other", slug="other", is_published=True)
    elsewhere = say(Conversation.objects.create(user=learner, lesson=other_lesson))
    rate_message(learner, elsewhere.pk, 1)
    assert ratings_for(conversation) == {up.pk: (1, ""), down.pk: (-1, "too long")}
