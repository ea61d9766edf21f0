"""YAML import and export: round trips, all-or-nothing imports and line-numbered errors."""

from __future__ import annotations

import re
import textwrap
from pathlib import Path

import pytest
import yaml
from django.conf import settings
from django.contrib.auth import get_user_model
from django.forms.models import model_to_dict

from lessons_app.models import Lesson, LessonProgress, Stage
from lessons_app.yaml_io import (
    LessonFileError,
    export_lessons,
    import_lessons,
    import_lessons_file,
)

pytestmark = pytest.mark.django_db

DOCS = Path(settings.BASE_DIR) / "docs" / "lesson-yaml.md"

VTT = "WEBVTT\n\n00:00:01.000 --> 00:00:05.000\nHello there.\n\n00:00:05.000 --> 00:00:09.000\nBye."

GOOD = """\
lessons:
  - title: First lesson
    slug: first
    stages:
      - kind: article
        title: Read
        body: Hello world, and welcome.
"""


def _state() -> list[dict]:
    """Everything an import could change, comparable between two moments."""
    lessons = []
    for lesson in Lesson.objects.order_by("slug"):
        data = model_to_dict(lesson)
        data["updated_at"] = lesson.updated_at
        data["stages"] = [model_to_dict(s) for s in lesson.stages.order_by("position", "id")]
        lessons.append(data)
    return lessons


def _content(lesson: Lesson) -> dict:
    """A lesson's authored content, without ids, positions or timestamps."""
    data = model_to_dict(lesson, fields=["title", "slug", "summary", "is_published", "position"])
    data["stages"] = [
        model_to_dict(stage, exclude=["id", "lesson", "position"])
        for stage in lesson.stages.order_by("position", "id")
    ]
    return data


def _make_rich_lessons() -> None:
    intro = Lesson.objects.create(
        title="Intro: “quotes” & colons",
        slug="intro",
        summary="Two lines\nof summary.",
        is_published=True,
        position=3,
    )
    Stage.objects.create(
        lesson=intro,
        position=10,
        kind=Stage.Kind.ARTICLE,
        title="Yes",  # would be a boolean if written unquoted
        body="# Heading\n\nIt\u2019s “curly”.\n\n- one\n- two: three\n\n    indented code",
        from_text='It\'s "curly".',
        to_text="- two: three",
    )
    Stage.objects.create(
        lesson=intro,
        position=20,
        kind=Stage.Kind.VIDEO,
        title="12345",
        video_id="01234567890",
        start_seconds=0,
        end_seconds=None,
        transcript=VTT,
    )
    Stage.objects.create(
        lesson=intro,
        position=30,
        kind=Stage.Kind.CHAT,
        title="Talk",
        instructions="Ask one question.\nThen another.",
        show_user_previous_content=False,
        show_tutor_previous_content=True,
        opening_message="",
    )
    draft = Lesson.objects.create(title="Draft", slug="draft", position=1)
    Stage.objects.create(
        lesson=draft,
        position=1,
        kind=Stage.Kind.VIDEO,
        title="Clip",
        video_id="aB3_x9-KqL0",
        start_seconds=4,
        end_seconds=8,
        transcript="",
    )
    Lesson.objects.create(title="Empty", slug="empty", summary="null")


# --- round trip -------------------------------------------------------------------


def test_export_then_import_into_an_empty_database_gives_identical_lessons():
    _make_rich_lessons()
    before = {lesson.slug: _content(lesson) for lesson in Lesson.objects.all()}
    text = export_lessons()

    Lesson.objects.all().delete()
    assert not Stage.objects.exists()
    result = import_lessons(text)

    assert sorted(result.created) == ["draft", "empty", "intro"]
    after = {lesson.slug: _content(lesson) for lesson in Lesson.objects.all()}
    assert after == before
    assert export_lessons() == text


def test_export_writes_multi_line_text_as_literal_blocks():
    _make_rich_lessons()
    text = export_lessons(["intro"])
    assert "body: |-\n          # Heading\n\n          It\u2019s “curly”." in text
    assert "instructions: |-\n          Ask one question.\n          Then another." in text
    assert "slug: draft" not in text
    # Values YAML would misread are quoted, so they come back as text.
    data = yaml.safe_load(text)
    stages = data["lessons"][0]["stages"]
    assert stages[0]["title"] == "Yes"
    assert stages[1]["title"] == "12345"
    assert stages[1]["video_id"] == "01234567890"


def test_export_of_an_unknown_slug_is_an_error():
    _make_rich_lessons()
    with pytest.raises(LookupError, match="'nope'"):
        export_lessons(["intro", "nope"])


def test_import_is_idempotent_and_keeps_stage_ids():
    first = import_lessons_file(Path(settings.BASE_DIR) / "lessons_app/fixtures/demo_lesson.yaml")
    assert first.created == ["learning-with-an-ai-tutor"]
    assert first.stages_created == 5
    state = _state()

    second = import_lessons_file(Path(settings.BASE_DIR) / "lessons_app/fixtures/demo_lesson.yaml")

    assert second.unchanged == ["learning-with-an-ai-tutor"]
    assert (second.stages_created, second.stages_updated, second.stages_deleted) == (0, 0, 0)
    assert _state() == state


def test_reimport_updates_stages_in_place_and_deletes_extra_ones():
    import_lessons(
        GOOD.replace(
            "        body: Hello world, and welcome.\n",
            """\
        body: Hello world, and welcome.
      - kind: chat
        title: Talk
        instructions: Ask.
      - kind: chat
        title: Talk more
        instructions: Ask again.
""",
        )
    )
    lesson = Lesson.objects.get(slug="first")
    read, talk, _ = lesson.stages.order_by("position")
    learner = get_user_model().objects.create_user("learner")
    progress = LessonProgress.objects.create(user=learner, lesson=lesson, current_stage=talk)

    result = import_lessons(
        GOOD.replace("First lesson", "First lesson, renamed")
        + """\
      - kind: chat
        title: Talk, reworded
        instructions: Ask differently.
"""
    )

    assert result.updated == ["first"]
    assert (result.stages_created, result.stages_updated, result.stages_deleted) == (0, 1, 1)
    lesson.refresh_from_db()
    assert lesson.title == "First lesson, renamed"
    stages = list(lesson.stages.order_by("position"))
    assert [s.pk for s in stages] == [read.pk, talk.pk]
    assert [(s.position, s.title) for s in stages] == [(1, "Read"), (2, "Talk, reworded")]
    progress.refresh_from_db()
    assert progress.current_stage_id == talk.pk


def test_leaving_out_an_optional_key_resets_it_to_its_default():
    import_lessons(
        GOOD.replace("    stages:", "    summary: Old summary.\n    published: true\n    stages:")
    )
    import_lessons(GOOD)
    lesson = Lesson.objects.get(slug="first")
    assert (lesson.summary, lesson.is_published) == ("", False)


def test_dry_run_saves_nothing_but_reports_what_would_change():
    result = import_lessons(GOOD, dry_run=True)
    assert result.created == ["first"]
    assert "Dry run" in result.summary()
    assert not Lesson.objects.exists()


def test_skip_existing_leaves_edited_lessons_alone():
    import_lessons(GOOD)
    Lesson.objects.filter(slug="first").update(title="Edited by an author")
    result = import_lessons(GOOD, skip_existing=True)
    assert result.skipped == ["first"]
    assert Lesson.objects.get(slug="first").title == "Edited by an author"


def test_the_documented_example_imports():
    match = re.search(r"```yaml\n(lessons:.*?)```", DOCS.read_text(encoding="utf-8"), re.S)
    assert match, "docs/lesson-yaml.md lost its example"
    result = import_lessons(match.group(1))
    assert result.created == ["photosynthesis"]
    kinds = list(
        Lesson.objects.get(slug="photosynthesis")
        .stages.order_by("position")
        .values_list("kind", flat=True)
    )
    assert kinds == ["article", "video", "chat"]


def test_values_are_cleaned_like_the_admin_does():
    import_lessons(
        GOOD.replace("Hello world, and welcome.", '"Hello\\r\\nworld.  \\n"')
        + "      - kind: video\n        title: V\n"
        + "        video_id: https://www.youtube.com/watch?v=aB3_x9-KqL0&t=5\n"
    )
    read, video = Lesson.objects.get(slug="first").stages.order_by("position")
    assert read.body == "Hello\nworld."
    assert video.video_id == "aB3_x9-KqL0"


# --- bad files: a line number, and nothing changed ----------------------------------

GOOD_PREFIX = GOOD  # lines 1-7: a valid lesson that must not be saved either


def _bad(extra: str) -> str:
    return GOOD_PREFIX + textwrap.indent(textwrap.dedent(extra), "  ")


BAD_FILES = {
    "yaml syntax": (_bad("  - title: [unclosed\n    slug: x\n"), 9, "YAML syntax error"),
    "tab indentation": (GOOD + "  - title: T\n\tslug: x\n", 9, "cannot start any token"),
    "unknown lesson key": (
        _bad("  - title: T\n    slug: t\n    colour: red\n"),
        10,
        "unknown key 'colour'",
    ),
    "unknown top-level key": (GOOD + "extra: 1\n", 8, "Unknown top-level key 'extra'"),
    "no lessons key": ("lesson:\n  - title: T\n", 1, "must start with 'lessons:'"),
    "lessons not a list": ("lessons: {title: T}\n", 1, "'lessons' must be a list"),
    "empty file": ("\n", 1, "The file is empty"),
    "missing slug": (_bad("  - title: T\n    summary: S\n"), 8, "needs the key 'slug'"),
    "wrong type: title number": (
        _bad("  - title: 12\n    slug: t\n"),
        8,
        "title must be text, not the number 12",
    ),
    "wrong type: published": (
        _bad("  - title: T\n    slug: t\n    published: 'yes'\n"),
        10,
        "published must be true or false",
    ),
    "wrong type: negative position": (
        _bad("  - title: T\n    slug: t\n    position: -1\n"),
        10,
        "position must be a whole number",
    ),
    "stages not a list": (
        _bad("  - title: T\n    slug: t\n    stages: article\n"),
        10,
        "stages must be a list",
    ),
    "bad slug": (_bad("  - title: T\n    slug: not a slug\n"), 9, "lessons[1].slug: Enter a valid"),
    "duplicate slug": (
        _bad("  - title: T\n    slug: first\n"),
        9,
        "already used by the lesson on line 3",
    ),
    "duplicate key": (
        _bad("  - title: T\n    slug: t\n    title: U\n"),
        10,
        "lessons[1].title is given twice",
    ),
    "unknown kind": (
        _bad("""\
          - title: T
            slug: t
            stages:
              - kind: quiz
                title: Q
        """),
        11,
        "unknown kind 'quiz'",
    ),
    "missing kind": (
        _bad("""\
          - title: T
            slug: t
            stages:
              - title: Q
        """),
        11,
        "missing the key 'kind'",
    ),
    "key of another kind": (
        _bad("""\
          - title: T
            slug: t
            stages:
              - kind: article
                title: A
                body: Text.
                video_id: aB3_x9-KqL0
        """),
        14,
        "'video_id' belongs to video stages, not to an article stage",
    ),
    "missing body": (
        _bad("""\
          - title: T
            slug: t
            stages:
              - kind: article
                title: A
        """),
        11,
        "an article stage needs the key 'body'",
    ),
    "missing from anchor": (
        _bad("""\
          - title: T
            slug: t
            stages:
              - kind: article
                title: A
                body: |
                  Some text
                  over two lines.
                from_text: Other text
        """),
        16,
        "from_text: The text 'Other text' does not occur in the article.",
    ),
    "to anchor before from anchor": (
        _bad("""\
          - title: T
            slug: t
            stages:
              - kind: article
                title: A
                body: Alpha beta gamma.
                from_text: gamma
                to_text: Alpha
        """),
        15,
        "to_text: The text 'Alpha' does not occur after the start anchor.",
    ),
    "bad transcript": (
        _bad("""\
          - title: T
            slug: t
            stages:
              - kind: video
                title: V
                video_id: aB3_x9-KqL0
                transcript: |
                  Just words, no timings.
        """),
        14,
        "transcript: The transcript is not valid WebVTT",
    ),
    "transcript without cues": (
        _bad("""\
          - title: T
            slug: t
            stages:
              - kind: video
                title: V
                video_id: aB3_x9-KqL0
                transcript: "WEBVTT\\n\\nno cue here"
        """),
        14,
        "transcript: The transcript has no cues",
    ),
    "bad video id": (
        _bad("""\
          - title: T
            slug: t
            stages:
              - kind: video
                title: V
                video_id: too-short
        """),
        13,
        "video_id: A YouTube video id is 11 characters",
    ),
    "video id read as a number": (
        _bad("""\
          - title: T
            slug: t
            stages:
              - kind: video
                title: V
                video_id: 12345678901
        """),
        13,
        "video_id must be text, not the number 12345678901 (put it in quotes)",
    ),
    "end before start": (
        _bad("""\
          - title: T
            slug: t
            stages:
              - kind: video
                title: V
                video_id: aB3_x9-KqL0
                start: 30
                end: 30
        """),
        15,
        "end: The end (30 s) must be after the start (30 s)",
    ),
    "chat without instructions": (
        _bad("""\
          - title: T
            slug: t
            stages:
              - kind: chat
                title: C
                instructions: "   "
        """),
        13,
        "instructions: A chat stage needs instructions",
    ),
    "boolean as text": (
        _bad("""\
          - title: T
            slug: t
            stages:
              - kind: chat
                title: C
                instructions: Go.
                show_user_previous_content: "no"
        """),
        14,
        "show_user_previous_content must be true or false",
    ),
}


@pytest.fixture
def existing_lesson() -> Lesson:
    """A lesson already in the database that a bad file also mentions."""
    lesson = Lesson.objects.create(title="First, as it was", slug="first", summary="Before.")
    Stage.objects.create(
        lesson=lesson, position=1, kind=Stage.Kind.CHAT, title="Old", instructions="Old."
    )
    return lesson


@pytest.mark.parametrize(("text", "line", "message"), BAD_FILES.values(), ids=BAD_FILES.keys())
def test_bad_file_names_the_line_and_changes_nothing(existing_lesson, text, line, message):
    before = _state()
    with pytest.raises(LessonFileError) as caught:
        import_lessons(text, source="bad.yaml")
    error = caught.value
    assert [p.line for p in error.problems] == [line], str(error)
    assert message in error.problems[0].message
    assert f"bad.yaml, line {line}: " in str(error)
    assert "nothing imported" in str(error)
    assert _state() == before


def test_every_problem_in_a_file_is_reported_at_once():
    text = _bad("""\
      - title: T
        slug: t
        stages:
          - kind: article
            title: A
            body: Text.
            from_text: Missing
          - kind: video
            title: V
            video_id: bad
    """)
    with pytest.raises(LessonFileError) as caught:
        import_lessons(text)
    assert [p.line for p in caught.value.problems] == [14, 17]
    assert not Lesson.objects.exists()


def test_a_file_that_is_not_utf8_is_refused(tmp_path):
    path = tmp_path / "latin1.yaml"
    path.write_bytes(GOOD.replace("Hello", "H\xe9llo").encode("latin-1"))
    with pytest.raises(LessonFileError, match="not UTF-8"):
        import_lessons_file(path)
    assert not Lesson.objects.exists()


def test_a_video_file_stage_imports_and_exports_without_a_youtube_id():
    import_lessons(
        GOOD
        + "      - kind: video\n"
        + "        title: Offline\n"
        + "        video_url: /static/lessons/demo/why-struggling-helps.webm\n"
    )
    video = Stage.objects.get(title="Offline")
    assert (video.video_id, video.video_url) == (
        "",
        "/static/lessons/demo/why-struggling-helps.webm",
    )
    [stage] = [
        s for s in yaml.safe_load(export_lessons())["lessons"][0]["stages"] if s["kind"] == "video"
    ]
    assert stage["video_url"] == "/static/lessons/demo/why-struggling-helps.webm"
    assert "video_id" not in stage


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("", "video_id: A video stage needs a YouTube video id or a video file URL."),
        ("        video_url: http://media.example/v.webm\n", "video_url: A video file URL is"),
        ("        video_url: //media.example/v.webm\n", "video_url: A video file URL is"),
    ],
)
def test_a_video_stage_needs_a_youtube_id_or_a_safe_file_url(line, message):
    text = GOOD + "      - kind: video\n        title: Nothing to play\n" + line
    with pytest.raises(LessonFileError, match=re.escape(message)):
        import_lessons(text)
    assert not Lesson.objects.exists()
