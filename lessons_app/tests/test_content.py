"""Excerpts and transcript spans: what each stage shows, and what the tutor is given."""

from __future__ import annotations

import pytest

from lessons_app.content import (
    AnchorNotFound,
    TranscriptError,
    cut_excerpt,
    cut_transcript,
    parse_transcript,
    previous_stage,
    transcript_as_webvtt,
)
from lessons_app.models import Lesson, Stage
from lessons_app.stage_kinds import previous_stage_content, stage_content
from lessons_app.tests.factories import (
    ArticleStageFactory,
    ChatStageFactory,
    LessonFactory,
    VideoStageFactory,
)

BODY = """\
# Tides

The Moon pulls on the oceans.
Twice a day the water rises and falls.

## Why twice?

The Earth is pulled too, so a second bulge forms on the far side.
"""

VTT = """\
WEBVTT

00:00:00.000 --> 00:00:10.000
First cue.

00:00:10.000 --> 00:00:20.000
Second cue.

00:00:20.000 --> 00:00:30.000
Third cue.

00:00:30.000 --> 00:00:40.000
Fourth cue.
"""

SRT = """\
1
00:00:00,000 --> 00:00:10,000
First cue.

2
00:00:10,000 --> 00:00:20,000
Second cue.

3
00:00:20,000 --> 00:00:30,000
Third cue.

4
00:00:30,000 --> 00:00:40,000
Fourth cue.
"""


# --- cut_excerpt ----------------------------------------------------------------


def test_excerpt_is_cut_between_anchors_inclusive():
    excerpt = cut_excerpt(BODY, "The Moon pulls", "rises and falls.")
    assert excerpt == "The Moon pulls on the oceans.\nTwice a day the water rises and falls."


def test_excerpt_from_anchor_only_runs_to_the_end():
    excerpt = cut_excerpt(BODY, "## Why twice?", "")
    assert (
        excerpt
        == "## Why twice?\n\nThe Earth is pulled too, so a second bulge forms on the far side."
    )


def test_excerpt_to_anchor_only_starts_at_the_beginning():
    assert cut_excerpt(BODY, "", "the oceans.") == "# Tides\n\nThe Moon pulls on the oceans."


@pytest.mark.parametrize("anchors", [("", ""), ("  ", "\n"), ("\t", "")])
def test_empty_anchors_give_the_whole_body(anchors):
    assert cut_excerpt(BODY, *anchors) == BODY


def test_straight_quotes_in_anchor_match_curly_quotes_in_body():
    body = "She said, “It\u2019s a trap.” Then she left the room."
    assert cut_excerpt(body, "\"It's", 'trap."') == "“It\u2019s a trap.”"


def test_curly_quotes_in_anchor_match_straight_quotes_in_body():
    body = 'He wrote "don\'t panic" on the cover. It helped.'
    assert cut_excerpt(body, "“don\u2019t", "panic”") == '"don\'t panic"'


def test_whitespace_and_line_breaks_need_not_match():
    body = "Line one ends here\nand   line two\n\n   continues here. After."
    assert (
        cut_excerpt(body, "ends here and line", "two continues\nhere.")
        == "ends here\nand   line two\n\n   continues here."
    )


def test_missing_from_anchor_raises_instead_of_returning_everything():
    with pytest.raises(AnchorNotFound) as caught:
        cut_excerpt(BODY, "The Sun pulls", "")
    assert caught.value.field == "from_text"
    assert caught.value.anchor == "The Sun pulls"
    assert "'The Sun pulls' does not occur in the article" in str(caught.value)


def test_missing_to_anchor_raises():
    with pytest.raises(AnchorNotFound) as caught:
        cut_excerpt(BODY, "", "three times a day")
    assert caught.value.field == "to_text"
    assert "does not occur after the start anchor" in str(caught.value)


def test_to_anchor_is_only_looked_for_after_the_from_anchor():
    body = "End of the intro. Start here, read on, and stop."
    with pytest.raises(AnchorNotFound) as caught:
        cut_excerpt(body, "Start here", "End of the intro.")
    assert caught.value.field == "to_text"


def test_to_anchor_before_and_after_from_anchor_uses_the_later_one():
    body = "stop. Start here, read on, and stop. Trailing."
    assert cut_excerpt(body, "Start here", "stop.") == "Start here, read on, and stop."


def test_long_missing_anchor_is_shortened_in_the_message():
    anchor = "x" * 100
    with pytest.raises(AnchorNotFound) as caught:
        cut_excerpt(BODY, anchor, "")
    assert "x" * 57 + "..." in str(caught.value)
    assert "x" * 58 not in str(caught.value)


# --- transcripts ------------------------------------------------------------------


@pytest.mark.parametrize("transcript", [VTT, SRT], ids=["webvtt", "srt"])
def test_parse_transcript_reads_cues(transcript):
    cues = parse_transcript(transcript)
    assert cues == [
        (0.0, 10.0, "First cue."),
        (10.0, 20.0, "Second cue."),
        (20.0, 30.0, "Third cue."),
        (30.0, 40.0, "Fourth cue."),
    ]


@pytest.mark.parametrize("transcript", [VTT, SRT], ids=["webvtt", "srt"])
def test_cues_overlapping_the_span_are_included_and_others_excluded(transcript):
    # 15-25 overlaps the second and third cues only partly; both are kept.
    assert cut_transcript(transcript, 15, 25) == "Second cue.\nThird cue."


@pytest.mark.parametrize("transcript", [VTT, SRT], ids=["webvtt", "srt"])
def test_cues_touching_the_span_only_at_a_boundary_are_excluded(transcript):
    # The first cue ends at 10 and the fourth starts at 30: neither is played.
    assert cut_transcript(transcript, 10, 30) == "Second cue.\nThird cue."


@pytest.mark.parametrize("transcript", [VTT, SRT], ids=["webvtt", "srt"])
def test_no_end_runs_to_the_last_cue(transcript):
    assert cut_transcript(transcript, 25, None) == "Third cue.\nFourth cue."


def test_whole_transcript_by_default():
    assert cut_transcript(VTT) == "First cue.\nSecond cue.\nThird cue.\nFourth cue."


def test_empty_transcript_gives_no_text():
    assert parse_transcript("") == []
    assert cut_transcript("  \n", 0, 10) == ""


@pytest.mark.parametrize(
    "transcript",
    ["Just some words, no timings at all.", "1\n00:00:01,000 -> nonsense\nHello"],
)
def test_malformed_transcript_raises(transcript):
    with pytest.raises(TranscriptError, match="not valid WebVTT"):
        parse_transcript(transcript)
    with pytest.raises(TranscriptError):
        cut_transcript(transcript, 0, 10)


def test_a_webvtt_header_without_cues_is_an_error_not_an_empty_transcript():
    with pytest.raises(TranscriptError, match="no cues"):
        parse_transcript("WEBVTT\n\nNOTE only a comment here\n")


# --- stages in the database -------------------------------------------------------


@pytest.fixture
def lesson(db) -> Lesson:
    lesson = LessonFactory(title="Tides", slug="tides", draft=True)
    ArticleStageFactory(
        lesson=lesson,
        position=1,
        title="Reading",
        body=BODY,
        from_text="The Moon pulls",
        to_text="rises and falls.",
    )
    VideoStageFactory(
        lesson=lesson,
        position=2,
        title="Watching",
        video_id="aB3_x9-KqL0",
        start_seconds=15,
        end_seconds=25,
        transcript=VTT,
    )
    ChatStageFactory(lesson=lesson, position=3, title="Talking", instructions="Quiz.")
    return lesson


def _stage(lesson: Lesson, title: str) -> Stage:
    return lesson.stages.get(title=title)


def test_stage_content_by_kind(lesson):
    assert stage_content(_stage(lesson, "Reading")) == (
        "The Moon pulls on the oceans.\nTwice a day the water rises and falls."
    )
    assert stage_content(_stage(lesson, "Watching")) == "Second cue.\nThird cue."
    assert stage_content(_stage(lesson, "Talking")) == ""
    assert stage_content(None) == ""


def test_previous_stage_content_follows_positions(lesson):
    reading, watching, talking = (_stage(lesson, t) for t in ("Reading", "Watching", "Talking"))
    assert previous_stage(reading) is None
    assert previous_stage_content(reading) == ""
    assert previous_stage(watching) == reading
    assert previous_stage_content(talking) == "Second cue.\nThird cue."


def test_previous_stage_breaks_position_ties_by_id(lesson):
    talking = _stage(lesson, "Talking")
    extra = Stage.objects.create(
        lesson=lesson,
        position=talking.position,
        kind=Stage.Kind.ARTICLE,
        title="Same position, created later",
        body="Later text.",
    )
    assert previous_stage(extra) == talking
    assert previous_stage_content(extra) == ""


def test_previous_stage_ignores_other_lessons(lesson):
    other = Lesson.objects.create(title="Other", slug="other")
    first = Stage.objects.create(
        lesson=other, position=5, kind=Stage.Kind.CHAT, title="Alone", instructions="Hi."
    )
    assert previous_stage(first) is None


def test_stage_with_a_broken_anchor_raises_rather_than_showing_everything(lesson):
    reading = _stage(lesson, "Reading")
    reading.to_text = "not in the text"
    with pytest.raises(AnchorNotFound):
        stage_content(reading)


def test_an_srt_transcript_becomes_webvtt_captions():
    srt = "1\n00:00:01,500 --> 00:01:05,000\nHello there.\n\n2\n01:00:05,000 --> 01:00:09,250\nBye."
    assert transcript_as_webvtt(srt) == (
        "WEBVTT\n\n00:00:01.500 --> 00:01:05.000\nHello there.\n\n"
        "01:00:05.000 --> 01:00:09.250\nBye.\n"
    )
