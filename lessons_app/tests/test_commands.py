"""Management commands: demo lesson, staff bootstrap, YAML import and export."""

from __future__ import annotations

import re
from io import StringIO

import pytest
import yaml
from django.contrib.auth import get_user_model
from django.contrib.staticfiles import finders
from django.core.management import CommandError, call_command

from lessons_app.models import Lesson, Stage
from lessons_app.stage_kinds import stage_content
from llm_app.models import ProviderConfig
from llm_app.services import make_default

pytestmark = pytest.mark.django_db

DEMO_SLUG = "learning-with-an-ai-tutor"


def run(*args, **options) -> str:
    out = StringIO()
    call_command(*args, stdout=out, stderr=StringIO(), **options)
    return out.getvalue()


# --- load_demo ----------------------------------------------------------------------


def test_load_demo_twice_gives_one_lesson_with_the_expected_stages():
    first = run("load_demo")
    lesson = Lesson.objects.get()
    stage_ids = list(lesson.stages.order_by("position").values_list("id", "kind", "position"))
    updated_at = lesson.updated_at

    second = run("load_demo")

    assert Lesson.objects.count() == 1
    lesson = Lesson.objects.get()
    assert (lesson.slug, lesson.is_published) == (DEMO_SLUG, True)
    assert list(lesson.stages.order_by("position").values_list("id", "kind", "position")) == (
        stage_ids
    )
    assert [kind for _, kind, _ in stage_ids] == ["article", "video", "chat", "article", "chat"]
    assert [position for _, _, position in stage_ids] == [1, 2, 3, 4, 5]
    assert lesson.updated_at == updated_at
    assert f"1 created ({DEMO_SLUG})" in first
    assert "already present" in second


def test_demo_stages_cut_what_they_promise():
    run("load_demo")
    article, video, chat, second_article, last_chat = Stage.objects.order_by("position")

    excerpt = stage_content(article)
    assert excerpt.startswith("An AI tutor is a patient conversation partner.")
    # The anchor is written with straight quotes; the body has curly ones.
    assert '"' in article.to_text and "“" not in article.to_text
    assert excerpt.endswith(
        "“Here\u2019s what\n   I\u2019ll remember,” and list two or three points in your own words."
    )
    assert "## What the tutor cannot do" not in excerpt
    assert len(article.body.split()) > 250

    assert (video.video_url, video.start_seconds, video.end_seconds) == (
        "/static/lessons/demo/why-struggling-helps.webm",
        30,
        150,
    )
    # The demo's video file ships with the app, so the stage plays offline.
    assert finders.find(video.video_url.removeprefix("/static/"))
    span = stage_content(video).splitlines()
    assert span[0].startswith("Instead of reading it again")
    assert span[-1].startswith("A tutor can help by asking you questions")

    assert chat.show_user_previous_content and chat.show_tutor_previous_content
    assert chat.instructions and chat.opening_message

    assert second_article.body == article.body
    assert stage_content(second_article).startswith("## What the tutor cannot do")
    assert last_chat.show_user_previous_content is False


def test_load_demo_keeps_edits_unless_reset():
    run("load_demo")
    Lesson.objects.filter(slug=DEMO_SLUG).update(title="Edited")
    run("load_demo")
    assert Lesson.objects.get().title == "Edited"
    run("load_demo", "--reset")
    assert Lesson.objects.get().title == "Learning with an AI tutor"


def test_load_demo_makes_the_offline_tutor_default_only_when_none_is():
    output = run("load_demo")
    default = ProviderConfig.objects.get(is_default=True)
    assert default.model.startswith("tutor-demo/")
    assert f"Default tutor: {default.name}." in output

    chosen = ProviderConfig.objects.create(name="Chosen", model="openai/gpt-4o-mini")
    make_default(chosen)
    output = run("load_demo")
    assert list(ProviderConfig.objects.filter(is_default=True)) == [chosen]
    assert "another provider is the default" in output
    assert ProviderConfig.objects.count() == 2


# --- ensure_staff -------------------------------------------------------------------


def test_ensure_staff_uses_the_configured_password_once(settings):
    settings.DJANGO_SUPERUSER_PASSWORD = "configured-Password-123"
    output = run("ensure_staff")
    assert "Staff account created: admin" in output
    assert "configured-Password-123" not in output
    user = get_user_model().objects.get(username="admin")
    assert user.check_password("configured-Password-123")
    assert user.is_superuser and user.is_staff

    output = run("ensure_staff")
    assert "already exists (admin)" in output
    assert get_user_model().objects.count() == 1


def test_ensure_staff_generates_and_prints_a_password(settings):
    settings.DJANGO_SUPERUSER_PASSWORD = ""
    output = run("ensure_staff")
    match = re.search(r"Staff account created: admin / (\S+) — shown only once", output)
    assert match, output
    password = match.group(1)
    assert len(password) >= 20
    assert get_user_model().objects.get(username="admin").check_password(password)

    output = run("ensure_staff")
    assert password not in output


def test_ensure_staff_does_nothing_when_staff_exists(settings):
    settings.DJANGO_SUPERUSER_PASSWORD = "whatever-Password-1"
    get_user_model().objects.create_user("editor", password="x-long-password", is_staff=True)
    output = run("ensure_staff")
    assert "already exists (editor)" in output
    assert not get_user_model().objects.filter(username="admin").exists()


def test_ensure_staff_never_promotes_an_existing_learner(settings):
    settings.DJANGO_SUPERUSER_PASSWORD = "whatever-Password-1"
    get_user_model().objects.create_user("admin", password="learner-password-1")
    with pytest.raises(CommandError, match="non-staff user named 'admin'"):
        run("ensure_staff")
    learner = get_user_model().objects.get(username="admin")
    assert not (learner.is_staff or learner.is_superuser)
    run("ensure_staff", "--username", "root")
    assert get_user_model().objects.get(username="root").is_superuser


# --- import_lessons / export_lessons ------------------------------------------------

GOOD = """\
lessons:
  - title: One
    slug: one
    stages:
      - kind: chat
        title: Talk
        instructions: Ask.
"""


def test_import_command_imports_and_reports(tmp_path):
    path = tmp_path / "lessons.yaml"
    path.write_text(GOOD, encoding="utf-8")
    assert "would have" in run("import_lessons", str(path), "--dry-run").lower()
    assert not Lesson.objects.exists()
    assert "1 created (one)" in run("import_lessons", str(path))
    assert Lesson.objects.get().stages.get().title == "Talk"


def test_import_command_fails_with_the_line_and_changes_nothing(tmp_path):
    path = tmp_path / "bad.yaml"
    path.write_text(GOOD + "  - title: Two\n    slug: two\n    stages: 3\n", encoding="utf-8")
    with pytest.raises(CommandError) as caught:
        run("import_lessons", str(path))
    assert f"{path}, line 10: lessons[1].stages must be a list" in str(caught.value)
    assert not Lesson.objects.exists()


def test_import_command_reports_a_missing_file(tmp_path):
    with pytest.raises(CommandError, match="No such file"):
        run("import_lessons", str(tmp_path / "absent.yaml"))


def test_export_command_round_trips_through_import(tmp_path):
    run("load_demo")
    printed = run("export_lessons")
    assert yaml.safe_load(printed)["lessons"][0]["slug"] == DEMO_SLUG
    path = tmp_path / "out.yaml"
    run("export_lessons", "--output", str(path), DEMO_SLUG)
    assert path.read_text(encoding="utf-8") == printed
    assert "1 unchanged" in run("import_lessons", str(path))

    with pytest.raises(CommandError, match="'missing'"):
        run("export_lessons", "missing")
