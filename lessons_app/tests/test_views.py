"""The learner pages: access rules, stage navigation, safe rendering and sign-up."""

from __future__ import annotations

import re

import pytest
from django.contrib.auth import get_user_model
from django.test import Client
from django.urls import reverse

from lessons_app.models import Lesson, LessonProgress, Message, Stage
from lessons_app.rendering import refused_images, render_markdown
from lessons_app.services import (
    COMPLETED_LESSON_MARKER,
    FINISHED_STAGE_MARKER,
    STARTED_STAGE_MARKER,
)
from lessons_app.stage_kinds import kind_of
from lessons_app.tests.factories import (
    ArticleStageFactory,
    ChatStageFactory,
    LearnerFactory,
    LessonFactory,
    StaffFactory,
    VideoStageFactory,
)
from lessons_app.views import CHAT_SOCKET_PATH, FROM_STAGE_FIELD, stage_url
from llm_app.services import make_default

pytestmark = pytest.mark.django_db

PASSWORD = "a-long-test-password-4821"

ARTICLE_BODY = """\
# Cells

Every living thing is made of cells.

## Inside a cell

The nucleus holds the cell's DNA. Mitochondria release energy.

## Outside the excerpt

This paragraph is not part of the stage.
"""

TRANSCRIPT = """\
WEBVTT

00:00:00.000 --> 00:00:10.000
Welcome to the microscope.

00:00:10.000 --> 00:00:20.000
Here is an onion cell.

00:00:20.000 --> 00:00:30.000
This part comes after the clip.
"""


@pytest.fixture
def lesson() -> Lesson:
    lesson = LessonFactory(title="What cells are", slug="what-cells-are", summary="Cells.")
    ArticleStageFactory(
        lesson=lesson,
        position=1,
        title="Reading about cells",
        body=ARTICLE_BODY,
        from_text="## Inside a cell",
        to_text="Mitochondria release energy.",
    )
    VideoStageFactory(
        lesson=lesson,
        position=2,
        title="Cells under the microscope",
        video_id="abc123XYZ_-",
        start_seconds=5,
        end_seconds=18,
        transcript=TRANSCRIPT,
    )
    ChatStageFactory(
        lesson=lesson,
        position=3,
        title="Talk about cells",
        instructions="SECRET-TUTOR-INSTRUCTIONS: ask about the nucleus.",
        show_user_previous_content=True,
    )
    return lesson


@pytest.fixture
def draft() -> Lesson:
    lesson = LessonFactory(title="Unfinished draft", slug="draft", draft=True)
    ArticleStageFactory(lesson=lesson, position=1, title="Draft stage", body="Draft.")
    return lesson


@pytest.fixture
def learner():
    return LearnerFactory(username="learner", password=PASSWORD)


@pytest.fixture
def learner_client(client, learner):
    client.force_login(learner)
    return client


@pytest.fixture
def staff_client(client):
    client.force_login(StaffFactory(username="author", password=PASSWORD))
    return client


def stages_of(lesson: Lesson) -> list[Stage]:
    return list(lesson.stages.order_by("position", "id"))


def post_next(client, lesson: Lesson):
    return client.post(reverse("lessons:next", args=[lesson.slug]))


def post_back(client, lesson: Lesson):
    return client.post(reverse("lessons:back", args=[lesson.slug]))


def markers(user, lesson: Lesson) -> list[str]:
    return list(
        Message.objects.filter(
            conversation__user=user, conversation__lesson=lesson, role=Message.Role.SYSTEM
        )
        .order_by("created_at", "id")
        .values_list("content", flat=True)
    )


# --- Access ------------------------------------------------------------------


def test_anonymous_learner_is_sent_to_login_with_next(client, lesson):
    url = lesson.get_absolute_url()
    response = client.get(url)
    assert response.status_code == 302
    assert response["Location"] == f"{reverse('login')}?next={url}"
    assert not LessonProgress.objects.exists()


def test_anonymous_next_post_is_sent_to_login(client, lesson):
    response = post_next(client, lesson)
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login"))
    assert not LessonProgress.objects.exists()


def test_unpublished_lesson_is_404_for_a_learner(learner_client, draft):
    assert learner_client.get(draft.get_absolute_url()).status_code == 404
    assert post_next(learner_client, draft).status_code == 404
    assert not LessonProgress.objects.filter(lesson=draft).exists()


def test_staff_may_preview_an_unpublished_lesson(staff_client, draft):
    response = staff_client.get(draft.get_absolute_url())
    assert response.status_code == 200
    html = response.content.decode()
    assert "Draft stage" in html
    assert "Preview: this lesson is not published" in html


def test_catalogue_lists_only_published_lessons(client, lesson, draft):
    response = client.get(reverse("lessons:catalogue"))
    assert response.status_code == 200
    html = response.content.decode()
    assert lesson.title in html
    assert lesson.get_absolute_url() in html
    assert draft.title not in html
    assert draft.get_absolute_url() not in html


def test_catalogue_shows_where_the_learner_is(learner_client, lesson):
    learner_client.get(lesson.get_absolute_url())
    post_next(learner_client, lesson)
    html = learner_client.get(reverse("lessons:catalogue")).content.decode()
    assert "Stage 2 of 3" in html
    assert "Continue" in html


# --- Stage pages -------------------------------------------------------------


def test_first_visit_shows_the_first_stage_excerpt(learner_client, lesson):
    response = learner_client.get(lesson.get_absolute_url())
    assert response.status_code == 200
    html = response.content.decode()
    assert "Stage 1 of 3" in html
    assert "Reading about cells" in html
    assert "The nucleus holds the cell" in html
    assert "<h4>Inside a cell</h4>" in html  # nested under the stage title
    # Only the excerpt, not the whole article.
    assert "not part of the stage" not in html
    # The chat panel placeholder is on every stage.
    assert 'id="chat-panel"' in html
    assert f'data-ws-url="{CHAT_SOCKET_PATH.format(slug=lesson.slug)}"' in html
    # First stage: no Back, a Next.
    assert reverse("lessons:back", args=[lesson.slug]) not in html
    assert reverse("lessons:next", args=[lesson.slug]) in html


def test_next_and_back_move_through_stages_by_post(learner_client, learner, lesson):
    article, video, _chat = stages_of(lesson)
    learner_client.get(lesson.get_absolute_url())

    response = post_next(learner_client, lesson)
    assert response.status_code == 302
    assert response["Location"] == stage_url(lesson, 2)
    progress = LessonProgress.objects.get(user=learner, lesson=lesson)
    assert progress.current_stage == video

    html = learner_client.get(lesson.get_absolute_url()).content.decode()
    assert "Stage 2 of 3" in html
    assert "Cells under the microscope" in html

    post_back(learner_client, lesson)
    progress.refresh_from_db()
    assert progress.current_stage == article


def test_get_on_next_and_back_is_not_allowed(learner_client, learner, lesson):
    learner_client.get(lesson.get_absolute_url())
    assert learner_client.get(reverse("lessons:next", args=[lesson.slug])).status_code == 405
    assert learner_client.get(reverse("lessons:back", args=[lesson.slug])).status_code == 405
    progress = LessonProgress.objects.get(user=learner, lesson=lesson)
    assert progress.current_stage == stages_of(lesson)[0]


def test_a_repeated_next_form_moves_only_one_stage(learner_client, learner, lesson):
    article, video, _chat = stages_of(lesson)
    learner_client.get(lesson.get_absolute_url())
    url = reverse("lessons:next", args=[lesson.slug])
    learner_client.post(url, {FROM_STAGE_FIELD: article.pk})
    learner_client.post(url, {FROM_STAGE_FIELD: article.pk})  # a double click
    assert LessonProgress.objects.get(user=learner, lesson=lesson).current_stage == video


def test_a_client_cannot_choose_the_stage(learner_client, learner, lesson):
    _article, _video, chat = stages_of(lesson)
    learner_client.get(lesson.get_absolute_url())
    learner_client.post(reverse("lessons:next", args=[lesson.slug]), {"stage": chat.pk, "index": 2})
    progress = LessonProgress.objects.get(user=learner, lesson=lesson)
    assert progress.current_stage == stages_of(lesson)[1]


def test_video_stage_embeds_the_span_and_its_transcript(learner_client, lesson):
    learner_client.get(lesson.get_absolute_url())
    post_next(learner_client, lesson)
    html = learner_client.get(lesson.get_absolute_url()).content.decode()
    assert 'src="https://www.youtube-nocookie.com/embed/abc123XYZ_-?start=5&amp;end=18"' in html
    assert re.search(r"<details class=\"transcript\">\s*<summary>Transcript</summary>", html)
    assert "Welcome to the microscope." in html
    assert "Here is an onion cell." in html
    assert "after the clip" not in html


def test_chat_stage_hides_instructions_and_shows_previous_content(learner_client, learner, lesson):
    learner_client.get(lesson.get_absolute_url())
    post_next(learner_client, lesson)
    post_next(learner_client, lesson)
    html = learner_client.get(lesson.get_absolute_url()).content.decode()
    assert "Talk about cells" in html
    assert "SECRET-TUTOR-INSTRUCTIONS" not in html
    assert "Look back at “Cells under the microscope”" in html
    assert "Here is an onion cell." in html
    assert "Finish lesson" in html
    assert reverse("lessons:back", args=[lesson.slug]) in html


def test_chat_stage_without_previous_content(learner_client, lesson):
    chat = stages_of(lesson)[2]
    chat.show_user_previous_content = False
    chat.save()
    learner_client.get(lesson.get_absolute_url())
    post_next(learner_client, lesson)
    post_next(learner_client, lesson)
    html = learner_client.get(lesson.get_absolute_url()).content.decode()
    assert "Talk about cells" in html
    assert "Look back at" not in html
    assert "Here is an onion cell." not in html


def test_finishing_the_last_stage_completes_the_lesson(learner_client, learner, lesson):
    learner_client.get(lesson.get_absolute_url())
    for _ in range(3):
        post_next(learner_client, lesson)
    progress = LessonProgress.objects.get(user=learner, lesson=lesson)
    assert progress.completed
    assert progress.completed_at is not None
    html = learner_client.get(lesson.get_absolute_url()).content.decode()
    assert 'id="completion-banner"' in html
    assert "Lesson complete" in html
    assert "Finish lesson" not in html
    catalogue = learner_client.get(reverse("lessons:catalogue")).content.decode()
    assert "Completed" in catalogue


def test_broken_anchor_shows_a_friendly_note_and_logs(learner_client, lesson, caplog):
    article = stages_of(lesson)[0]
    article.from_text = "This heading was renamed"
    article.save()
    with caplog.at_level("WARNING", logger="lessons_app.rendering"):
        response = learner_client.get(lesson.get_absolute_url())
    assert response.status_code == 200
    html = response.content.decode()
    assert "This stage's content is being updated" in html
    assert "This heading was renamed" not in html  # the detail is for staff only
    assert any("This heading was renamed" in record.getMessage() for record in caplog.records)


def test_broken_anchor_detail_is_shown_to_staff(staff_client, lesson):
    article = stages_of(lesson)[0]
    article.to_text = "No such ending"
    article.save()
    html = staff_client.get(lesson.get_absolute_url()).content.decode()
    assert "This stage's content is being updated" in html
    assert "No such ending" in html


def test_lesson_without_stages_renders(learner_client):
    empty = Lesson.objects.create(title="Empty", slug="empty", is_published=True)
    response = learner_client.get(empty.get_absolute_url())
    assert response.status_code == 200
    assert "This lesson has no stages yet" in response.content.decode()
    assert post_next(learner_client, empty).status_code == 302


# --- Safety ------------------------------------------------------------------


def test_article_html_and_javascript_links_are_inert(learner_client):
    lesson = Lesson.objects.create(title="Hostile", slug="hostile", is_published=True)
    Stage.objects.create(
        lesson=lesson,
        position=1,
        kind=Stage.Kind.ARTICLE,
        title="Hostile article",
        body=(
            "Before.\n\n"
            "<script>alert(1)</script>\n\n"
            "<img src=x onerror=alert(1)>\n\n"
            "[x](javascript:alert(1))\n\n"
            '<a href="javascript:alert(2)" onclick="alert(3)">y</a>\n\n'
            "[safe](https://example.org/page)\n\n"
            "After."
        ),
    )
    html = learner_client.get(lesson.get_absolute_url()).content.decode()
    article = html.split('class="prose article-body"', 1)[1].split("</article>", 1)[0]
    assert "Before." in article
    assert "After." in article
    assert "<script" not in article.lower()
    assert "alert(1)</script>" not in article
    assert "onerror" not in article.lower()
    assert "onclick" not in article.lower()
    assert 'href="javascript:' not in article.lower()
    assert re.search(r"<a [^>]*href=\"javascript", article, re.IGNORECASE) is None
    # Ordinary links survive, opening beside the lesson without an opener.
    assert re.search(
        r'<a href="https://example.org/page"[^>]*rel="noopener noreferrer"', article
    ) or re.search(
        r'<a [^>]*rel="noopener noreferrer"[^>]*href="https://example.org/page"', article
    )
    # The page's only scripts are the shipped static files and the chat's translations
    # (Django's JavaScript catalogue, served by this site): no inline script at all.
    script_tags = re.findall(r"<script\b[^>]*>", html, re.IGNORECASE)
    assert script_tags, "the lesson page should load the chat script"
    for tag in script_tags:
        assert re.search(r'\ssrc="/(static/|jsi18n/")', tag), tag
    assert re.findall(r"<script\b[^>]*>(.*?)</script>", html, re.IGNORECASE | re.DOTALL) == [
        ""
    ] * len(script_tags)


def test_chat_panel_says_when_the_next_reply_comes_from_the_demo_tutor(learner_client, lesson):
    from llm_app.models import ProviderConfig
    from llm_app.providers import DEMO_MODEL

    def demo_note() -> str:
        html = learner_client.get(lesson.get_absolute_url()).content.decode()
        return re.search(r"<p [^>]*data-chat-demo-note[^>]*>", html).group(0)

    ProviderConfig.objects.create(name="Demo", model=DEMO_MODEL, is_default=True)
    assert 'data-demo-tutor="true"' in demo_note()
    assert " hidden" not in demo_note()

    make_default(ProviderConfig.objects.create(name="Claude", model="anthropic/claude-x"))
    assert 'data-demo-tutor="false"' in demo_note()
    assert " hidden" in demo_note()


def test_chat_history_markdown_is_sanitised(learner_client, learner, lesson):
    learner_client.get(lesson.get_absolute_url())
    conversation = Message.objects.get(conversation__user=learner).conversation
    Message.objects.create(
        conversation=conversation,
        role=Message.Role.ASSISTANT,
        content="**Good** <img src=x onerror=alert(1)> ![leak](https://evil.example/?q=secret)",
    )
    Message.objects.create(
        conversation=conversation, role=Message.Role.USER, content="<b>hi</b> there"
    )
    html = learner_client.get(lesson.get_absolute_url()).content.decode()
    panel = html.split('id="chat-panel"', 1)[1]
    assert "<strong>Good</strong>" in panel
    assert "onerror" not in panel
    assert "evil.example" not in panel  # no images in tutor replies
    assert "&lt;b&gt;hi&lt;/b&gt; there" in panel  # learner text is escaped, not rendered


def test_render_markdown_keeps_formatting_and_drops_the_dangerous():
    html = render_markdown(
        "**b** `c`\n\n| a | b |\n|:--|--:|\n| 1 | 2 |\n\n"
        "[l](https://x.org) <iframe src='https://e.example'></iframe>"
        "<style>p{}</style> ![im](https://i.example/x.png)"
    )
    assert "<strong>b</strong>" in html
    assert "<code>c</code>" in html
    assert '<th class="align-right">b</th>' in html
    assert "style=" not in html  # the Content-Security-Policy allows no inline style
    assert '<a href="https://x.org" target="_blank" rel="noopener noreferrer">l</a>' in html
    assert "iframe" not in html
    assert "style>" not in html
    assert "i.example" not in html
    assert '<img alt="im">' in render_markdown(
        "![im](https://i.example/x.png)", allow_images=True
    )  # not an allowed image host (test_authored_images_load_from_allowed_hosts_only)
    assert render_markdown("") == ""
    assert render_markdown("# A\n\n#### B", heading_offset=2) == "<h3>A</h3>\n<h6>B</h6>\n"


@pytest.mark.parametrize(
    ("markdown", "src"),
    [
        ("![a](/static/lessons/leaf.png)", "/static/lessons/leaf.png"),
        ("![a](leaf.png)", "leaf.png"),
        ("![a](https://images.example.org/leaf.png)", "https://images.example.org/leaf.png"),
        (
            '<img src="https://images.example.org/x.png" alt="a">',
            "https://images.example.org/x.png",
        ),
        ("![a](http://images.example.org/leaf.png)", None),  # not HTTPS
        ("![a](https://evil.example/track.png)", None),
        ("![a](//evil.example/track.png)", None),
        ('<img src="https://evil.example/x.png" alt="a">', None),
        ("![a](https://images.example.org.evil.example/x.png)", None),
    ],
)
def test_authored_images_load_from_allowed_hosts_only(settings, markdown, src):
    settings.TUTOR_IMAGE_HOSTS = ["images.example.org"]
    html = render_markdown(markdown, allow_images=True)
    assert "<img" in html
    if src is None:
        assert "src=" not in html
        assert len(refused_images(markdown)) == 1
    else:
        assert f'src="{src}"' in html
        assert refused_images(markdown) == []


def test_a_refused_image_says_why():
    [refused] = refused_images("Look: ![leaf](https://evil.example/leaf.png)")
    assert refused.src == "https://evil.example/leaf.png"
    assert refused.reason == (
        "evil.example is not one of this site's image hosts (staff list them in TUTOR_IMAGE_HOSTS)"
    )


# --- Stage markers -----------------------------------------------------------


def test_markers_are_recorded_in_order(learner_client, learner, lesson):
    article, video, chat = stages_of(lesson)
    learner_client.get(lesson.get_absolute_url())
    learner_client.get(lesson.get_absolute_url())  # a reload starts nothing new
    post_next(learner_client, lesson)
    post_back(learner_client, lesson)
    post_next(learner_client, lesson)
    post_next(learner_client, lesson)
    post_next(learner_client, lesson)
    post_next(learner_client, lesson)  # already complete: nothing more

    def started(stage):
        return STARTED_STAGE_MARKER.format(activity=kind_of(stage).activity, title=stage.title)

    def finished(stage):
        return FINISHED_STAGE_MARKER.format(activity=kind_of(stage).activity, title=stage.title)

    assert markers(learner, lesson) == [
        "Started reading: Reading about cells",
        "Finished reading: Reading about cells",
        "Started watching: Cells under the microscope",
        "Started reading: Reading about cells",
        "Finished reading: Reading about cells",
        "Started watching: Cells under the microscope",
        "Finished watching: Cells under the microscope",
        "Started chatting: Talk about cells",
        "Finished chatting: Talk about cells",
        "Completed the lesson: What cells are",
    ]
    # The literal texts above are the named templates, filled in.
    assert markers(learner, lesson)[:3] == [started(article), finished(article), started(video)]
    assert markers(learner, lesson)[-3:] == [
        started(chat),
        finished(chat),
        COMPLETED_LESSON_MARKER.format(title=lesson.title),
    ]
    html = learner_client.get(lesson.get_absolute_url()).content.decode()
    assert '<li class="chat-marker">Completed the lesson: What cells are</li>' in html


# --- Accounts ----------------------------------------------------------------


def test_signup_creates_the_user_and_logs_them_in(client):
    response = client.get(reverse("lessons:signup"))
    assert response.status_code == 200
    assert 'name="password1"' in response.content.decode()

    response = client.post(
        reverse("lessons:signup"),
        {"username": "newlearner", "password1": PASSWORD, "password2": PASSWORD},
    )
    assert response.status_code == 302
    assert response["Location"] == reverse("lessons:catalogue")
    user = get_user_model().objects.get(username="newlearner")
    assert not user.is_staff
    assert client.session["_auth_user_id"] == str(user.pk)
    html = client.get(reverse("lessons:catalogue")).content.decode()
    assert "newlearner" in html
    assert "Log out" in html


def test_signup_rejects_mismatched_passwords(client):
    response = client.post(
        reverse("lessons:signup"),
        {"username": "newlearner", "password1": PASSWORD, "password2": PASSWORD + "x"},
    )
    assert response.status_code == 200
    assert 'class="field-errors"' in response.content.decode()
    assert not get_user_model().objects.filter(username="newlearner").exists()


def test_signup_follows_a_safe_next_only(client, lesson):
    response = client.post(
        reverse("lessons:signup"),
        {
            "username": "a",
            "password1": PASSWORD,
            "password2": PASSWORD,
            "next": "https://evil.example/",
        },
    )
    assert response["Location"] == reverse("lessons:catalogue")
    client.logout()
    response = client.post(
        reverse("lessons:signup"),
        {
            "username": "b",
            "password1": PASSWORD,
            "password2": PASSWORD,
            "next": lesson.get_absolute_url(),
        },
    )
    assert response["Location"] == lesson.get_absolute_url()


def test_login_page_and_login(client, learner, lesson):
    url = f"{reverse('login')}?next={lesson.get_absolute_url()}"
    html = client.get(url).content.decode()
    assert '<label for="id_username">Username</label>' in html
    assert 'name="csrfmiddlewaretoken"' in html
    response = client.post(
        reverse("login"),
        {"username": "learner", "password": PASSWORD, "next": lesson.get_absolute_url()},
    )
    assert response.status_code == 302
    assert response["Location"] == lesson.get_absolute_url()


def test_logout_is_a_post_form_and_works(learner_client):
    html = learner_client.get(reverse("lessons:catalogue")).content.decode()
    assert re.search(
        rf'<form method="post" action="{reverse("logout")}"[^>]*>\s*<input type="hidden" '
        r'name="csrfmiddlewaretoken"',
        html,
    )
    response = learner_client.post(reverse("logout"))
    assert response.status_code == 302
    assert "_auth_user_id" not in learner_client.session
    html = learner_client.get(reverse("lessons:catalogue")).content.decode()
    assert "Log out" not in html
    assert "Log in" in html


def test_admin_link_for_staff(staff_client):
    html = staff_client.get(reverse("lessons:catalogue")).content.decode()
    assert f'href="{reverse("admin:index")}"' in html


def test_no_admin_link_for_learners(learner_client):
    html = learner_client.get(reverse("lessons:catalogue")).content.decode()
    assert f'href="{reverse("admin:index")}"' not in html


def test_each_stage_has_its_own_address_and_none_jumps_ahead(learner_client, learner, lesson):
    assert stage_url(lesson, 2) == f"/lessons/{lesson.slug}/stages/2/"
    html = learner_client.get(lesson.get_absolute_url()).content.decode()
    assert f'data-stage-url="{stage_url(lesson, 1)}"' in html
    response = learner_client.get(stage_url(lesson, 1))
    assert response.status_code == 200
    assert "Stage 1 of 3" in response.content.decode()
    # Ahead of the learner's progress: to the stage they are on, nothing moved.
    response = learner_client.get(stage_url(lesson, 3))
    assert response["Location"] == stage_url(lesson, 1)
    progress = LessonProgress.objects.get(user=learner, lesson=lesson)
    assert progress.current_stage == stages_of(lesson)[0]
    assert post_next(learner_client, lesson)["Location"] == stage_url(lesson, 2)
    assert "Stage 2 of 3" in learner_client.get(stage_url(lesson, 2)).content.decode()
    # Behind: the same (Back moves them, an address never does).
    assert learner_client.get(stage_url(lesson, 1))["Location"] == stage_url(lesson, 2)
    assert post_back(learner_client, lesson)["Location"] == stage_url(lesson, 1)
    for missing in (0, 4, 99):
        assert learner_client.get(stage_url(lesson, missing)).status_code == 404


def test_a_stage_address_needs_a_log_in_and_a_visible_lesson(learner_client, lesson):
    url = stage_url(lesson, 1)
    response = Client().get(url)
    assert response["Location"] == f"{reverse('login')}?next={url}"
    lesson.is_published = False
    lesson.save()
    assert learner_client.get(url).status_code == 404


def test_a_video_file_stage_plays_in_the_page_with_the_transcript_as_captions(
    learner_client, lesson
):
    _article, video, _chat = stages_of(lesson)
    video.video_url = "/static/lessons/demo/why-struggling-helps.webm"
    video.save()
    post_next(learner_client, lesson)
    html = learner_client.get(stage_url(lesson, 2)).content.decode()
    captions = reverse("lessons:stage_captions", args=[lesson.slug, 2])
    assert '<video controls preload="metadata" src="/static/lessons/demo/' in html
    assert "why-struggling-helps.webm#t=5,18" in html
    assert f'<track kind="captions" src="{captions}"' in html
    assert "<iframe" not in html  # the file wins over the YouTube id
    response = learner_client.get(captions)
    assert response["Content-Type"] == "text/vtt; charset=utf-8"
    assert response.content.decode().startswith("WEBVTT\n\n00:00:")
    # Only the stage the learner is on has captions, as only it has a page.
    assert (
        learner_client.get(reverse("lessons:stage_captions", args=[lesson.slug, 1])).status_code
        == 404
    )
    assert (
        learner_client.get(reverse("lessons:stage_captions", args=[lesson.slug, 9])).status_code
        == 404
    )


def test_the_favicon_is_linked_on_pages_and_answered_at_favicon_ico(client, learner_client):
    html = learner_client.get(reverse("lessons:catalogue")).content.decode()
    assert '<link rel="icon" href="/static/lessons/favicon.svg" type="image/svg+xml">' in html
    response = Client().get("/favicon.ico")
    assert response.status_code == 302
    assert response["Location"] == "/static/lessons/favicon.svg"
