"""The rating endpoint the chat's thumbs buttons call."""

import json

import pytest
from django.urls import reverse

from lessons_app import services
from lessons_app.models import Message, MessageRating
from lessons_app.tests.chat_helpers import make_lesson, make_user
from lessons_app.tutor.conversation import chat_state

pytestmark = pytest.mark.django_db


@pytest.fixture
def reply():
    lesson = make_lesson()
    user = make_user()
    conversation = services.get_conversation(user, lesson)
    return Message.objects.create(
        conversation=conversation, role=Message.Role.ASSISTANT, content="Chlorophyll."
    )


def url(message: Message) -> str:
    return reverse(
        "lessons:rate_message",
        kwargs={"slug": message.conversation.lesson.slug, "message_id": message.pk},
    )


def post(client, message, body) -> object:
    return client.post(url(message), data=json.dumps(body), content_type="application/json")


def test_learner_rates_and_rerates_their_reply(client, reply):
    client.force_login(reply.conversation.user)
    response = post(client, reply, {"value": 1, "comment": "  clear  "})
    assert response.status_code == 200
    assert response.json() == {"value": 1, "comment": "clear"}
    post(client, reply, {"value": -1})
    rating = MessageRating.objects.get()
    assert (rating.value, rating.comment) == (-1, "")

    conversation = reply.conversation
    history = chat_state(conversation.user, conversation.lesson, conversation).serialized_messages(
        for_staff=False
    )
    (shown,) = [message for message in history if message["id"] == reply.pk]
    assert shown["rating"] == {"value": -1, "comment": ""}

    assert client.delete(url(reply)).json() == {"value": None, "comment": ""}
    assert not MessageRating.objects.exists()


@pytest.mark.parametrize("body", [{"value": 5}, {"value": "up"}, {}, ["value", 1]])
def test_bad_values_are_a_clear_400(client, reply, body):
    client.force_login(reply.conversation.user)
    response = post(client, reply, body)
    assert response.status_code == 400
    assert response.json()["error"]
    assert not MessageRating.objects.exists()


def test_someone_elses_reply_is_not_found(client, reply):
    client.force_login(make_user("intruder"))
    assert post(client, reply, {"value": 1}).status_code == 404
    assert not MessageRating.objects.exists()


def test_anonymous_is_sent_to_log_in(client, reply):
    response = post(client, reply, {"value": 1})
    assert response.status_code == 302
    assert "/accounts/login/" in response["Location"]


def test_get_is_not_allowed(client, reply):
    client.force_login(reply.conversation.user)
    assert client.get(url(reply)).status_code == 405


def post_raw(client, message, raw: str | bytes) -> object:
    return client.post(url(message), data=raw, content_type="application/json")


@pytest.mark.parametrize(
    ("raw", "status"),
    [
        ('{"value": 1, "comment": "\\ud800"}', 400),  # an unpaired surrogate
        ('{"value": 1, "\\udc00": 1}', 400),
        ("[" * 5_000 + "]" * 5_000, 400),  # parsing it would raise RecursionError
        (b'{"value": 1, "comment": "\xff"}', 400),  # not UTF-8
        ("not json", 400),
        (json.dumps({"value": 1, "comment": "x" * 20_000}), 413),
    ],
)
def test_malformed_bodies_are_a_clear_4xx_not_a_500(client, reply, raw, status):
    client.force_login(reply.conversation.user)
    response = post_raw(client, reply, raw)
    assert response.status_code == status
    assert response.json()["error"]
    assert not MessageRating.objects.exists()


def test_nul_characters_in_a_comment_are_dropped(client, reply):
    client.force_login(reply.conversation.user)
    response = post_raw(client, reply, '{"value": 1, "comment": "so\\u0000 clear"}')
    assert response.json() == {"value": 1, "comment": "so clear"}
    assert MessageRating.objects.get().comment == "so clear"
