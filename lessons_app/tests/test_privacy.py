"""Learners' data under their control: download, deletion, retention and the AI-use notice."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
from channels.db import database_sync_to_async
from django.core.management import call_command
from django.urls import reverse
from django.utils.html import escape

from lessons_app import ai_notice, privacy
from lessons_app.models import (
    AiNoticeAcceptance,
    Conversation,
    LessonProgress,
    Message,
    MessageRating,
    ModerationFlag,
)
from lessons_app.tests.chat_helpers import make_lesson, make_user, open_chat, refusal
from lessons_app.tests.factories import PASSWORD

pytestmark = pytest.mark.django_db

NOW = datetime(2026, 5, 1, 12, 0, tzinfo=UTC)


def add_conversation(user, lesson, *, last_message_days_ago: int, status=Message.Status.COMPLETE):
    conversation = Conversation.objects.create(user=user, lesson=lesson)
    question = Message.objects.create(
        conversation=conversation, role=Message.Role.USER, content=f"{user}'s question"
    )
    reply = Message.objects.create(
        conversation=conversation, role=Message.Role.ASSISTANT, content="An answer", status=status
    )
    Message.objects.filter(pk=question.pk).update(
        created_at=NOW - timedelta(days=last_message_days_ago + 1)
    )
    Message.objects.filter(pk=reply.pk).update(
        created_at=NOW - timedelta(days=last_message_days_ago)
    )
    Conversation.objects.filter(pk=conversation.pk).update(created_at=NOW - timedelta(days=90))
    return conversation, reply


@pytest.fixture
def lesson():
    return make_lesson()


@pytest.fixture
def ada(lesson):
    """A learner with something of every kind: progress, a conversation, a rating, a notice."""
    user = make_user("ada")
    LessonProgress.objects.create(user=user, lesson=lesson, current_stage=lesson.stages.first())
    _, reply = add_conversation(user, lesson, last_message_days_ago=1)
    MessageRating.objects.create(message=reply, user=user, value=1, comment="Clear")
    ai_notice.accept_notice(user, now=NOW)
    return user


@pytest.fixture
def grace(lesson):
    user = make_user("grace")
    add_conversation(user, lesson, last_message_days_ago=1)
    LessonProgress.objects.create(user=user, lesson=lesson)
    return user


def test_a_learner_downloads_all_their_data_and_no_one_elses(client, ada, grace, lesson):
    client.force_login(ada)
    response = client.get(reverse("lessons:account_data"))
    assert response["Content-Disposition"] == 'attachment; filename="tutor-data-ada.json"'
    data = json.loads(response.content)
    assert data["format"] == privacy.EXPORT_FORMAT
    assert data["account"]["username"] == "ada"
    assert data["ai_notice"] == {
        "accepted_at": "2026-05-01T12:00:00Z",
        "notice": str(ai_notice.AI_NOTICE),
    }
    [progress] = data["progress"]
    assert (progress["lesson"], progress["current_stage"]) == (lesson.slug, "Photosynthesis")
    assert data["teaching"] == {"objectives_met": [], "answers": [], "hints_shown": []}
    [conversation] = data["conversations"]
    assert [m["content"] for m in conversation["messages"]] == ["ada's question", "An answer"]
    assert conversation["messages"][1]["rating"]["value"] == 1
    assert conversation["messages"][1]["rating"]["comment"] == "Clear"
    assert "grace" not in response.content.decode()


def test_the_account_page_offers_download_and_deletion_and_states_retention(client, ada, settings):
    settings.TUTOR_CONVERSATION_RETENTION_DAYS = 30
    settings.TUTOR_AI_NOTICE = True
    client.force_login(ada)
    page = " ".join(client.get(reverse("lessons:account")).content.decode().split())
    assert "Conversations are deleted 30 days after their last message." in page
    assert "You accepted the notice about the AI tutor on 1 May 2026, 12:00 UTC." in page
    assert reverse("lessons:account_data") in page
    assert reverse("lessons:delete_account") in page
    settings.TUTOR_CONVERSATION_RETENTION_DAYS = 0
    page = " ".join(client.get(reverse("lessons:account")).content.decode().split())
    assert "Conversations are kept until you delete your account." in page


def test_the_account_pages_need_a_log_in(client):
    for name in ("lessons:account", "lessons:account_data"):
        assert "/accounts/login/" in client.get(reverse(name))["Location"]
    assert client.post(reverse("lessons:delete_account")).status_code == 302


def test_deleting_needs_the_password_and_then_removes_everything_theirs(client, ada, grace):
    client.force_login(ada)
    response = client.post(reverse("lessons:delete_account"), {"password": "not it"})
    assert response.status_code == 400
    assert "That is not your password; nothing was deleted." in response.content.decode()
    assert Conversation.objects.filter(user=ada).exists()

    response = client.post(reverse("lessons:delete_account"), {"password": PASSWORD}, follow=True)
    assert "Your account and everything the tutor kept about you have been deleted." in (
        response.content.decode()
    )
    assert not type(ada).objects.filter(username="ada").exists()
    for model in (Conversation, LessonProgress, MessageRating, AiNoticeAcceptance):
        assert not model.objects.filter(user_id=ada.pk).exists(), model
    assert Message.objects.filter(conversation__user=grace).count() == 2
    assert not response.wsgi_request.user.is_authenticated


def test_staff_download_a_learners_data_from_the_admin(run_admin_action, ada, grace):
    response = run_admin_action("download_data", ada)
    assert response["Content-Disposition"] == 'attachment; filename="tutor-data-ada.json"'
    assert json.loads(response.content)["account"]["username"] == "ada"
    both = json.loads(run_admin_action("download_data", ada, grace).content)
    assert [data["account"]["username"] for data in both] == ["ada", "grace"]


def test_staff_delete_a_learner_with_their_data_from_the_admin(admin_client, ada, grace):
    changelist = reverse("admin:auth_user_changelist")
    admin_client.post(
        changelist, {"action": "delete_selected", "_selected_action": [ada.pk], "post": "yes"}
    )
    assert not Conversation.objects.filter(user_id=ada.pk).exists()
    assert not MessageRating.objects.exists()
    assert Conversation.objects.filter(user=grace).exists()


def test_retention_deletes_conversations_idle_for_longer_than_the_setting(lesson):
    old, _ = add_conversation(make_user("old"), lesson, last_message_days_ago=31)
    recent, _ = add_conversation(make_user("recent"), lesson, last_message_days_ago=29)
    streaming, _ = add_conversation(
        make_user("streaming"), lesson, last_message_days_ago=60, status=Message.Status.STREAMING
    )
    assert privacy.delete_old_conversations(now=NOW, days=30) == 1
    remaining = set(Conversation.objects.values_list("pk", flat=True))
    assert remaining == {recent.pk, streaming.pk}
    assert not Message.objects.filter(conversation_id=old.pk).exists()
    assert privacy.delete_old_conversations(now=NOW, days=0) == 0


def test_the_retention_command_uses_the_setting(lesson, settings, capsys):
    add_conversation(make_user("old"), lesson, last_message_days_ago=10_000)
    settings.TUTOR_CONVERSATION_RETENTION_DAYS = 0
    call_command("delete_old_conversations")
    assert "conversations are kept; nothing deleted" in capsys.readouterr().out
    assert Conversation.objects.count() == 1
    settings.TUTOR_CONVERSATION_RETENTION_DAYS = 365
    call_command("delete_old_conversations")
    assert "Deleted 1 conversation with no message in the last 365 days." in capsys.readouterr().out
    assert not Conversation.objects.exists()


def test_the_ai_notice_stands_in_for_the_chat_until_accepted_once(client, lesson, settings):
    settings.TUTOR_AI_NOTICE = True
    user = make_user("new")
    client.force_login(user)
    page = client.get(lesson.get_absolute_url()).content.decode()
    assert escape(str(ai_notice.AI_NOTICE)) in page
    assert 'id="chat-panel"' not in page

    accept = reverse("lessons:accept_ai_notice")
    response = client.post(accept, {"next": lesson.get_absolute_url()})
    assert response["Location"] == lesson.get_absolute_url()
    acceptance = AiNoticeAcceptance.objects.get(user=user)
    assert acceptance.notice == str(ai_notice.AI_NOTICE)
    first = acceptance.accepted_at
    page = client.get(lesson.get_absolute_url()).content.decode()
    assert 'id="chat-panel"' in page
    assert escape(str(ai_notice.AI_NOTICE)) not in page
    client.post(accept, {"next": "https://evil.example/"})
    assert AiNoticeAcceptance.objects.get(user=user).accepted_at == first  # accepted once


def test_without_the_setting_or_for_staff_there_is_no_notice(client, lesson, settings):
    client.force_login(make_user("learner"))
    assert 'id="chat-panel"' in client.get(lesson.get_absolute_url()).content.decode()
    settings.TUTOR_AI_NOTICE = True
    client.force_login(make_user("teacher", staff=True))
    assert 'id="chat-panel"' in client.get(lesson.get_absolute_url()).content.decode()


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("turn_runtime")
async def test_the_socket_refuses_a_learner_who_has_not_accepted_the_notice(settings):
    settings.TUTOR_AI_NOTICE = True
    await database_sync_to_async(make_lesson)()
    user = await database_sync_to_async(make_user)("new")
    assert await refusal(user, "plants") == 4403
    await database_sync_to_async(ai_notice.accept_notice)(user, now=NOW)
    communicator, history = await open_chat(user)
    assert history["type"] == "history"
    await communicator.disconnect()


def test_the_download_says_which_messages_moderation_flagged(client, ada):
    question = Message.objects.get(conversation__user=ada, role=Message.Role.USER)
    ModerationFlag.objects.create(message=question, categories=["harassment"])
    client.force_login(ada)
    data = json.loads(client.get(reverse("lessons:account_data")).content)
    first, second = data["conversations"][0]["messages"]
    assert first["moderation_flag"]["categories"] == ["harassment"]
    assert second["moderation_flag"] is None
