"""The admin as staff use it: pages render, stage validation, previews and warnings."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.contrib.auth.models import Permission
from django.test import Client
from django.urls import reverse
from django.utils.html import escape

from lessons_app.admin import (
    MAX_PREVIEW_BODY_CHARS,
    NO_TRANSCRIPT_WARNING,
    PREVIEW_CLASS,
    REFUSED_LABEL,
    STAGE_ADMIN_JS,
)
from lessons_app.models import (
    Conversation,
    Lesson,
    LessonProgress,
    Message,
    Stage,
    TurnRefusal,
)
from lessons_app.reply_errors import ReplyErrorCode
from lessons_app.stage_kinds import EMPTY_BODY_ERROR
from lessons_app.tests.factories import (
    ArticleStageFactory,
    ChatStageFactory,
    LearnerFactory,
    LessonFactory,
    VideoStageFactory,
)
from tutor_project.testing.browser import CHROMIUM_ARGS

pytestmark = pytest.mark.django_db

BODY = "# Title\n\nIntro that is cut away.\n\nKeep <b>this</b> & “that”.\n\nOutro also cut."
VTT = (
    "WEBVTT\n\n00:00:00.000 --> 00:00:10.000\nEarly words.\n\n"
    "00:00:10.000 --> 00:00:20.000\nMiddle words."
)


@pytest.fixture
def lesson() -> Lesson:
    lesson = LessonFactory(title="Tides", slug="tides", summary="Sea.", position=2, draft=True)
    ArticleStageFactory(
        lesson=lesson,
        position=1,
        title="Read",
        body=BODY,
        from_text="Keep <b>this</b>",
        to_text='"that".',
    )
    VideoStageFactory(lesson=lesson, position=2, title="Silent film", video_id="aB3_x9-KqL0")
    VideoStageFactory(
        lesson=lesson,
        position=3,
        title="Narrated film",
        video_id="aB3_x9-KqL1",
        start_seconds=12,
        transcript=VTT,
    )
    ChatStageFactory(lesson=lesson, position=4, title="Talk", instructions="Quiz them.")
    return lesson


@pytest.fixture
def conversation(lesson) -> Conversation:
    learner = LearnerFactory(
        username="learner", email="learner@example.com", password="x-long-password"
    )
    conversation = Conversation.objects.create(user=learner, lesson=lesson)
    Message.objects.create(
        conversation=conversation,
        role=Message.Role.ASSISTANT,
        content="What pulls the tides?",
        stage=lesson.stages.get(title="Talk"),
        provider_name="Offline demo tutor",
        model="tutor-demo/offline-tutor",
        input_tokens=120,
        output_tokens=9,
        cost_usd=Decimal("0.000123"),
        time_to_first_token_ms=40,
        total_time_ms=300,
    )
    LessonProgress.objects.create(
        user=learner, lesson=lesson, current_stage=lesson.stages.get(title="Talk")
    )
    return conversation


def _stage(lesson: Lesson, title: str) -> Stage:
    return lesson.stages.get(title=title)


@pytest.mark.parametrize("model", ["lesson", "stage", "conversation", "lessonprogress"])
def test_changelist_and_change_pages_render(admin_client, conversation, model):
    obj = {
        "lesson": conversation.lesson,
        "stage": _stage(conversation.lesson, "Read"),
        "conversation": conversation,
        "lessonprogress": LessonProgress.objects.get(),
    }[model]
    changelist = admin_client.get(reverse(f"admin:lessons_app_{model}_changelist"))
    assert changelist.status_code == 200
    change = admin_client.get(reverse(f"admin:lessons_app_{model}_change", args=[obj.pk]))
    assert change.status_code == 200


@pytest.mark.parametrize("model", ["lesson", "stage"])
def test_add_pages_render_with_the_kind_script(admin_client, model):
    response = admin_client.get(reverse(f"admin:lessons_app_{model}_add"))
    assert response.status_code == 200
    assert STAGE_ADMIN_JS in response.content.decode()


def test_lesson_list_shows_stage_count_and_missing_transcripts(admin_client, lesson):
    response = admin_client.get(reverse("admin:lessons_app_lesson_changelist"))
    rows = response.context["cl"].result_list
    assert [(row.slug, row._stage_count, row._missing_transcripts) for row in rows] == [
        ("tides", 4, 1)
    ]


def test_lesson_list_search_and_published_filter(admin_client, lesson):
    Lesson.objects.create(title="Volcanoes", slug="volcanoes", is_published=True)
    url = reverse("admin:lessons_app_lesson_changelist")

    def slugs(params):
        response = admin_client.get(url, params)
        return sorted(row.slug for row in response.context["cl"].result_list)

    assert slugs({"q": "sea"}) == ["tides"]  # summary
    assert slugs({"q": "volcan"}) == ["volcanoes"]
    assert slugs({"is_published__exact": "1"}) == ["volcanoes"]
    assert slugs({"is_published__exact": "0"}) == ["tides"]


def test_lesson_change_page_has_a_sortable_stage_inline(admin_client, lesson):
    response = admin_client.get(reverse("admin:lessons_app_lesson_change", args=[lesson.pk]))
    html = response.content.decode()
    assert 'class="_reorder_"' in html
    assert 'name="stages-0-position"' in html
    for heading in ("Article", "Video", "Chat"):
        assert f"stage-kind-{heading.lower()}" in html


def _stage_post(lesson: Lesson, **fields) -> dict:
    data = {
        "lesson": lesson.pk,
        "position": 9,
        "kind": "article",
        "title": "New stage",
        "body": "",
        "from_text": "",
        "to_text": "",
        "video_id": "",
        "start_seconds": 0,
        "end_seconds": "",
        "transcript": "",
        "instructions": "",
        "opening_message": "",
    }
    data.update(fields)
    return data


def test_adding_a_stage_with_a_missing_anchor_shows_the_error(admin_client, lesson):
    count = Stage.objects.count()
    response = admin_client.post(
        reverse("admin:lessons_app_stage_add"),
        _stage_post(lesson, body="Some article text.", from_text="Absent words"),
    )
    assert response.status_code == 200
    errors = response.context["adminform"].form.errors
    assert errors["from_text"] == ["The text 'Absent words' does not occur in the article."]
    assert "does not occur in the article" in response.content.decode()
    assert Stage.objects.count() == count


@pytest.mark.parametrize(
    ("fields", "field", "message"),
    [
        ({"kind": "article"}, "body", "An article stage needs a body."),
        (
            {"body": "Alpha beta.", "from_text": "beta", "to_text": "Alpha"},
            "to_text",
            "The text 'Alpha' does not occur after the start anchor.",
        ),
        ({"kind": "video"}, "video_id", "A video stage needs a YouTube video id or a video file"),
        (
            {"kind": "video", "video_url": "http://media.example/v.webm"},
            "video_url",
            "A video file URL is a path on this site (starting with /) or an https://",
        ),
        ({"kind": "video", "video_id": "dQw4w9WgXc"}, "video_id", "A YouTube video id is 11"),
        (
            {"kind": "video", "video_id": "aB3_x9-KqL0", "start_seconds": 20, "end_seconds": 5},
            "end_seconds",
            "The end (5 s) must be after the start (20 s)",
        ),
        (
            {"kind": "video", "video_id": "aB3_x9-KqL0", "transcript": "no timings here"},
            "transcript",
            "The transcript is not valid WebVTT",
        ),
        ({"kind": "chat", "instructions": " "}, "instructions", "A chat stage needs instructions"),
    ],
)
def test_stage_form_rejects_invalid_stages(admin_client, lesson, fields, field, message):
    response = admin_client.post(
        reverse("admin:lessons_app_stage_add"), _stage_post(lesson, **fields)
    )
    assert response.status_code == 200
    errors = response.context["adminform"].form.errors
    assert any(message in error for error in errors.get(field, [])), errors


def test_saving_a_stage_keeps_only_its_kind_fields_and_normalises_text(admin_client, lesson):
    response = admin_client.post(
        reverse("admin:lessons_app_stage_add"),
        _stage_post(
            lesson,
            kind="video",
            video_id="https://youtu.be/aB3_x9-KqL0?t=3",
            body="Left over from when this was an article.",
            instructions="Left over too.",
            transcript=VTT.replace("\n", "\r\n"),
        ),
    )
    assert response.status_code == 302, response.context["adminform"].form.errors
    stage = Stage.objects.get(title="New stage")
    assert (stage.video_id, stage.body, stage.instructions) == ("aB3_x9-KqL0", "", "")
    assert "\r" not in stage.transcript


def test_inline_stage_with_a_missing_anchor_shows_the_error(admin_client):
    lesson = Lesson.objects.create(title="Empty", slug="empty")
    data = {
        "title": "Empty",
        "slug": "empty",
        "summary": "",
        "position": 0,
        "stages-TOTAL_FORMS": 1,
        "stages-INITIAL_FORMS": 0,
        "stages-MIN_NUM_FORMS": 0,
        "stages-MAX_NUM_FORMS": 1000,
        "stages-0-kind": "article",
        "stages-0-title": "Read",
        "stages-0-position": "",
        "stages-0-body": "Only this text.",
        "stages-0-from_text": "",
        "stages-0-to_text": "Missing end",
        "stages-0-start_seconds": 0,
        "objectives-TOTAL_FORMS": 0,
        "objectives-INITIAL_FORMS": 0,
    }
    url = reverse("admin:lessons_app_lesson_change", args=[lesson.pk])
    response = admin_client.post(url, data)
    assert response.status_code == 200
    assert "The text &#x27;Missing end&#x27; does not occur after the start anchor." in (
        response.content.decode()
    )
    assert not lesson.stages.exists()

    data["stages-0-to_text"] = "this text."
    response = admin_client.post(url, data)
    assert response.status_code == 302
    stage = lesson.stages.get()
    assert (stage.title, stage.position) == ("Read", 1)


def test_excerpt_preview_shows_the_cut_text_escaped(admin_client, lesson):
    stage = _stage(lesson, "Read")
    response = admin_client.get(reverse("admin:lessons_app_stage_change", args=[stage.pk]))
    html = response.content.decode()
    assert "Excerpt preview" in html
    assert "Keep &lt;b&gt;this&lt;/b&gt; &amp; “that”." in html
    assert "Keep <b>this</b>" not in html
    assert "Intro that is cut away" not in html.split("Excerpt preview", 1)[1]
    assert "Outro also cut" not in html.split("Excerpt preview", 1)[1]


def test_excerpt_preview_says_which_images_learners_will_not_see(admin_client, lesson):
    stage = _stage(lesson, "Read")
    stage.body = "A leaf: ![leaf](https://evil.example/leaf.png) and ![ok](/static/leaf.png)"
    stage.from_text = stage.to_text = ""
    stage.save()
    response = admin_client.get(reverse("admin:lessons_app_stage_change", args=[stage.pk]))
    preview = response.content.decode().split("Excerpt preview", 1)[1]
    assert (
        "⚠ Learners will not see the image https://evil.example/leaf.png: evil.example is not "
        "one of this site&#x27;s image hosts (staff list them in TUTOR_IMAGE_HOSTS)."
    ) in preview
    assert "/static/leaf.png:" not in preview


def test_excerpt_preview_is_shortened(admin_client, lesson):
    stage = _stage(lesson, "Read")
    stage.body = "word " * 400
    stage.from_text = stage.to_text = ""
    stage.save()
    response = admin_client.get(reverse("admin:lessons_app_stage_change", args=[stage.pk]))
    assert "… (2000 characters in all)" in response.content.decode()


LIVE_PREVIEW_URL = "admin:lessons_app_stage_excerpt_preview"


def _live_preview(client, **fields):
    return client.post(reverse(LIVE_PREVIEW_URL), fields)


def test_live_preview_gives_the_excerpt_of_unsaved_anchors(admin_client, lesson):
    response = _live_preview(admin_client, body=BODY, from_text="Intro", to_text="Keep <b>this</b>")
    assert response.status_code == 200
    assert response["Content-Type"] == "application/json"
    assert response.json() == {"excerpt": "Intro that is cut away.\n\nKeep <b>this</b>"}
    # Nothing was saved: the stage still has its own anchors.
    assert _stage(lesson, "Read").from_text == "Keep <b>this</b>"


def test_live_preview_matches_anchors_like_the_saved_preview(admin_client):
    body = "One.\r\n\r\nTwo   “quoted”\r\nline.\r\n\r\nThree."
    response = _live_preview(admin_client, body=body, from_text="Two", to_text='"quoted" line.')
    assert response.json() == {"excerpt": "Two   “quoted”\nline."}
    # No anchors: the whole article, shortened as the saved preview is.
    response = _live_preview(admin_client, body="word " * 400)
    assert response.json()["excerpt"].endswith("… (2000 characters in all)")


@pytest.mark.parametrize(
    ("fields", "error"),
    [
        (
            {"body": "Alpha beta.", "from_text": "beta", "to_text": "Alpha"},
            "The text 'Alpha' does not occur after the start anchor.",
        ),
        (
            {"body": "Alpha beta.", "from_text": "Gamma"},
            "The text 'Gamma' does not occur in the article.",
        ),
        ({"body": " \n ", "from_text": "", "to_text": ""}, EMPTY_BODY_ERROR),
        ({}, EMPTY_BODY_ERROR),
    ],
)
def test_live_preview_reports_what_the_form_would(admin_client, lesson, fields, error):
    response = _live_preview(admin_client, **fields)
    assert response.status_code == 200
    assert response.json() == {"error": error}
    # The stage form refuses the same text with the same words.
    form_response = admin_client.post(
        reverse("admin:lessons_app_stage_add"), _stage_post(lesson, **fields)
    )
    form_errors = form_response.context["adminform"].form.errors
    assert error in [message for messages in form_errors.values() for message in messages]


def test_live_preview_refuses_an_oversize_body(admin_client):
    response = _live_preview(admin_client, body="x" * (MAX_PREVIEW_BODY_CHARS + 1))
    assert response.status_code == 400
    assert response.json() == {
        "error": "The body is too long to preview (more than 1,000,000 characters)."
    }
    response = _live_preview(admin_client, body="x" * MAX_PREVIEW_BODY_CHARS, to_text="xx")
    assert response.status_code == 200


def test_live_preview_only_answers_post(admin_client):
    response = admin_client.get(reverse(LIVE_PREVIEW_URL), {"body": "Text."})
    assert response.status_code == 405
    assert response["Allow"] == "POST"


def test_live_preview_turns_away_anyone_but_staff(client, django_user_model):
    url = reverse(LIVE_PREVIEW_URL)
    response = client.post(url, {"body": "Text."})
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("admin:login"))

    learner = django_user_model.objects.create_user("learner", password="x-long-password")
    client.force_login(learner)
    response = client.post(url, {"body": "Text."})
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("admin:login"))

    # Staff who may neither add nor change stages get a 403.
    staff = django_user_model.objects.create_user("staff", password="x-long-password")
    staff.is_staff = True
    staff.save()
    client.force_login(staff)
    assert client.post(url, {"body": "Text."}).status_code == 403
    staff.user_permissions.add(Permission.objects.get(codename="change_stage"))
    assert client.post(url, {"body": "Text."}).json() == {"excerpt": "Text."}


def test_live_preview_needs_the_csrf_token(admin_user):
    client = Client(enforce_csrf_checks=True)
    client.force_login(admin_user)
    assert _live_preview(client, body="Text.").status_code == 403


@pytest.mark.parametrize("page", ["stage_change", "stage_add", "lesson_change"])
def test_preview_carries_the_live_preview_address(admin_client, lesson, page):
    if page == "stage_change":
        url = reverse("admin:lessons_app_stage_change", args=[_stage(lesson, "Read").pk])
    elif page == "stage_add":
        url = reverse("admin:lessons_app_stage_add")
    else:
        url = reverse("admin:lessons_app_lesson_change", args=[lesson.pk])
    html = admin_client.get(url).content.decode()
    marker = f'<div class="{PREVIEW_CLASS}" data-live-url="{reverse(LIVE_PREVIEW_URL)}"'
    # One per stage on the lesson page, plus the template for "Add another Stage".
    assert html.count(marker) == (1 if page.startswith("stage") else lesson.stages.count() + 1)


def _position_of_new_stage(admin_client, lesson, **fields) -> int:
    response = admin_client.post(
        reverse("admin:lessons_app_stage_add"),
        _stage_post(lesson, body="Text.", **fields),
    )
    assert response.status_code == 302, response.context["adminform"].form.errors
    stage = Stage.objects.get(title="New stage")
    stage.delete()
    return stage.position


def test_new_stage_without_a_position_goes_after_the_last(admin_client, lesson):
    assert lesson.stages.order_by("-position").first().position == 4
    assert _position_of_new_stage(admin_client, lesson, position="") == 5
    data = _stage_post(lesson, body="Text.")
    del data["position"]
    response = admin_client.post(reverse("admin:lessons_app_stage_add"), data)
    assert response.status_code == 302
    assert Stage.objects.get(title="New stage").position == 5
    # A position the author gives is kept, even 0.
    Stage.objects.filter(title="New stage").delete()
    assert _position_of_new_stage(admin_client, lesson, position=2) == 2
    assert _position_of_new_stage(admin_client, lesson, position=0) == 0
    empty = Lesson.objects.create(title="Empty", slug="empty")
    assert _position_of_new_stage(admin_client, empty, position="") == 1


def test_add_stage_form_leaves_the_position_empty(admin_client, lesson):
    response = admin_client.get(reverse("admin:lessons_app_stage_add"))
    field = response.context["adminform"].form["position"]
    assert field.value() is None
    assert not field.field.required
    assert "after the lesson's last stage" in response.content.decode()
    # Changing a stage still needs its position.
    change = admin_client.get(
        reverse("admin:lessons_app_stage_change", args=[_stage(lesson, "Read").pk])
    )
    assert change.context["adminform"].form["position"].field.required


def test_video_preview_shows_the_transcript_span(admin_client, lesson):
    stage = _stage(lesson, "Narrated film")
    response = admin_client.get(reverse("admin:lessons_app_stage_change", args=[stage.pk]))
    preview = response.content.decode().split("Excerpt preview", 1)[1]
    assert "Middle words." in preview
    assert "Early words." not in preview


def test_video_without_transcript_is_flagged(admin_client, lesson):
    silent = _stage(lesson, "Silent film")
    change = admin_client.get(reverse("admin:lessons_app_stage_change", args=[silent.pk]))
    assert NO_TRANSCRIPT_WARNING in change.content.decode()
    narrated = _stage(lesson, "Narrated film")
    change = admin_client.get(reverse("admin:lessons_app_stage_change", args=[narrated.pk]))
    assert NO_TRANSCRIPT_WARNING not in change.content.decode()

    url = reverse("admin:lessons_app_stage_changelist")
    listing = admin_client.get(url).content.decode()
    assert listing.count("⚠ missing") == 1
    missing = admin_client.get(url, {"transcript": "no"}).context["cl"].result_list
    assert [s.title for s in missing] == ["Silent film"]
    present = admin_client.get(url, {"transcript": "yes"}).context["cl"].result_list
    assert [s.title for s in present] == ["Narrated film"]


def test_stage_list_filters_by_kind_and_lesson(admin_client, lesson):
    other = Lesson.objects.create(title="Other", slug="other")
    Stage.objects.create(lesson=other, kind=Stage.Kind.CHAT, title="Elsewhere", instructions="x")
    url = reverse("admin:lessons_app_stage_changelist")
    chats = admin_client.get(url, {"kind__exact": "chat"}).context["cl"].result_list
    assert sorted(s.title for s in chats) == ["Elsewhere", "Talk"]
    in_other = admin_client.get(url, {"lesson__id__exact": other.pk}).context["cl"].result_list
    assert [s.title for s in in_other] == ["Elsewhere"]


def test_chat_preview_shows_the_previous_stage(admin_client, lesson):
    talk = _stage(lesson, "Talk")
    response = admin_client.get(reverse("admin:lessons_app_stage_change", args=[talk.pk]))
    preview = response.content.decode().split("Excerpt preview", 1)[1]
    assert "Middle words." in preview


def test_conversation_messages_are_read_only(admin_client, conversation):
    url = reverse("admin:lessons_app_conversation_change", args=[conversation.pk])
    html = admin_client.get(url).content.decode()
    assert "What pulls the tides?" in html
    assert "0.000123" in html
    assert 'name="messages-0-content"' not in html
    assert 'name="messages-MAX_NUM_FORMS" value="0"' in html
    assert 'name="messages-0-DELETE"' not in html
    response = admin_client.post(url, {"messages-TOTAL_FORMS": 0})
    assert response.status_code == 403
    assert admin_client.get(reverse("admin:lessons_app_conversation_add")).status_code == 403


def test_a_refused_reply_shows_the_provider_that_refused_it(admin_client, conversation):
    refusal = TurnRefusal.objects.create(
        conversation=conversation,
        code=ReplyErrorCode.BUDGET_EXCEEDED,
        provider_name="Claude",
        model="anthropic/claude-sonnet-4-20250514",
    )
    Message.objects.create(
        conversation=conversation,
        role=Message.Role.ASSISTANT,
        status=Message.Status.ERROR,
        error_code=ReplyErrorCode.BUDGET_EXCEEDED,
        refusal=refusal,
    )
    url = reverse("admin:lessons_app_conversation_change", args=[conversation.pk])
    html = admin_client.get(url).content.decode()
    label = ReplyErrorCode.BUDGET_EXCEEDED.label
    assert escape(f"Claude ({REFUSED_LABEL}: {label})") in html
    assert "anthropic/claude-sonnet-4-20250514" in html
    # A reply that was answered shows its own provider, unmarked.
    assert "<p>Offline demo tutor</p>" in html


@pytest.mark.parametrize("query", ["learner", "learner@example.com", "Tides"])
def test_conversations_are_searchable(admin_client, conversation, query):
    url = reverse("admin:lessons_app_conversation_changelist")
    found = admin_client.get(url, {"q": query}).context["cl"].result_list
    assert list(found) == [conversation]
    assert not admin_client.get(url, {"q": "nobody-matches"}).context["cl"].result_list


def test_conversations_filter_by_lesson(admin_client, conversation):
    other = Lesson.objects.create(title="Other", slug="other")
    url = reverse("admin:lessons_app_conversation_changelist")
    assert list(
        admin_client.get(url, {"lesson__id__exact": conversation.lesson_id})
        .context["cl"]
        .result_list
    ) == [conversation]
    assert not admin_client.get(url, {"lesson__id__exact": other.pk}).context["cl"].result_list


def test_progress_is_view_only(admin_client, conversation):
    progress = LessonProgress.objects.get()
    url = reverse("admin:lessons_app_lessonprogress_change", args=[progress.pk])
    assert admin_client.post(url, {"completed": "on"}).status_code == 403
    assert admin_client.get(reverse("admin:lessons_app_lessonprogress_add")).status_code == 403
    listing = reverse("admin:lessons_app_lessonprogress_changelist")
    assert list(admin_client.get(listing, {"completed__exact": "0"}).context["cl"].result_list) == [
        progress
    ]


def test_export_action_downloads_yaml(run_admin_action, lesson):
    response = run_admin_action("export_yaml", lesson)
    assert response.status_code == 200
    assert response["Content-Type"].startswith("application/x-yaml")
    text = response.content.decode()
    assert "slug: tides" in text
    assert "title: Silent film" in text


@pytest.mark.browser
def test_kind_script_shows_only_the_chosen_kind(
    chromium_executable, live_server, admin_user, client
):
    """In a real browser, the stage forms show just the fieldset of the selected kind."""
    from playwright.sync_api import sync_playwright

    # All database work happens first: Playwright's event loop makes the ORM refuse to run.
    lesson = Lesson.objects.create(title="Browser", slug="browser")
    client.force_login(admin_user)
    session = client.cookies["sessionid"].value
    add_url = live_server.url + reverse("admin:lessons_app_stage_add")
    lesson_url = live_server.url + reverse("admin:lessons_app_lesson_change", args=[lesson.pk])

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=chromium_executable, args=CHROMIUM_ARGS, headless=True
        )
        context = browser.new_context(viewport={"width": 375, "height": 812})
        context.add_cookies([{"name": "sessionid", "value": session, "url": live_server.url}])
        page = context.new_page()

        def visible(root) -> list[str]:
            kinds = ("article", "video", "chat")
            return [k for k in kinds if root.locator(f"fieldset.stage-kind-{k}").is_visible()]

        page.goto(add_url)
        assert visible(page) == ["article", "video", "chat"]
        page.select_option("select#id_kind", "video")
        assert visible(page) == ["video"]
        page.select_option("select#id_kind", "chat")
        assert visible(page) == ["chat"]

        page.goto(lesson_url)
        page.get_by_text("Add another Stage").click()
        page.select_option("select#id_stages-0-kind", "article")
        assert visible(page.locator("#stages-0")) == ["article"]
        browser.close()
