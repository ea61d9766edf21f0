"""The text a stage shows: article excerpts and transcript spans.

Pure functions over strings and model instances, with no database writes, so
the admin, the learner pages and the tutor prompt all cut content the same way.
Which kind of stage cuts what is said in :mod:`lessons_app.stage_kinds`.
"""

from __future__ import annotations

import functools
import io
from typing import TYPE_CHECKING

import webvtt
from django.db.models import Q
from webvtt.errors import MalformedFileError

if TYPE_CHECKING:
    from lessons_app.models import Stage

_QUOTE_EQUIVALENTS = str.maketrans(
    {
        "\u2018": "'",
        "\u2019": "'",
        "\u201a": "'",
        "\u2032": "'",
        "\u201c": '"',
        "\u201d": '"',
        "\u201e": '"',
        "\u2033": '"',
    }
)


class AnchorNotFound(ValueError):
    """An excerpt anchor does not occur in the article."""

    def __init__(self, field: str, anchor: str):
        self.field = field
        self.anchor = anchor
        shown = anchor if len(anchor) <= 60 else anchor[:57] + "..."
        where = "after the start anchor" if field == "to_text" else "in the article"
        super().__init__(f"The text {shown!r} does not occur {where}.")


class TranscriptError(ValueError):
    """A transcript is neither valid WebVTT nor valid SRT."""


def _normalise(text: str) -> tuple[str, list[int]]:
    """Fold curly quotes to straight ones and whitespace runs to one space.

    Returns the folded text and, for each of its characters, the index of the
    character in ``text`` it came from, so matches map back to the original.
    """
    folded: list[str] = []
    origin: list[int] = []
    previous_was_space = False
    for index, char in enumerate(text.translate(_QUOTE_EQUIVALENTS)):
        if char.isspace():
            if previous_was_space:
                continue
            char = " "
            previous_was_space = True
        else:
            previous_was_space = False
        folded.append(char)
        origin.append(index)
    return "".join(folded), origin


# Cuts remembered: every tutor turn cuts its stage's content again, from the same few
# lessons' text, and the cut (a loop over each character) is the turn's slowest step
# before the model call. The functions are pure, so a remembered cut is the same cut.
_REMEMBERED_CUTS = 64


@functools.lru_cache(maxsize=_REMEMBERED_CUTS)
def cut_excerpt(body: str, from_text: str = "", to_text: str = "") -> str:
    """Return ``body`` from the start of ``from_text`` to the end of ``to_text``, inclusive.

    Anchors match regardless of curly versus straight quotes and of how
    whitespace is laid out. An anchor that does not occur raises
    :class:`AnchorNotFound`: a wrong anchor must never yield the whole article.
    """
    from_anchor, _ = _normalise(from_text.strip())
    to_anchor, _ = _normalise(to_text.strip())
    if not from_anchor and not to_anchor:
        return body
    folded, origin = _normalise(body)

    start = 0
    if from_anchor:
        found = folded.find(from_anchor)
        if found == -1:
            raise AnchorNotFound("from_text", from_text.strip())
        start = found

    end = len(folded)
    if to_anchor:
        found = folded.find(to_anchor, start)
        if found == -1:
            raise AnchorNotFound("to_text", to_text.strip())
        end = found + len(to_anchor)

    original_start = origin[start] if start < len(origin) else len(body)
    original_end = origin[end - 1] + 1 if end > 0 else 0
    return body[original_start:original_end].strip()


def _captions(transcript: str) -> list[webvtt.Caption]:
    text = transcript.strip().lstrip("\ufeff")
    if not text:
        return []
    kind = "vtt" if text.startswith("WEBVTT") else "srt"
    try:
        captions = list(webvtt.WebVTT.from_buffer(io.StringIO(text + "\n"), format=kind))
    except MalformedFileError as exc:
        raise TranscriptError(
            f"The transcript is not valid WebVTT (starting with 'WEBVTT') or SRT: {exc}."
        ) from exc
    if not captions:
        raise TranscriptError(
            "The transcript has no cues. Each cue is a time line such as "
            "'00:00:01.000 --> 00:00:04.000' followed by its text."
        )
    return captions


def parse_transcript(transcript: str) -> list[tuple[float, float, str]]:
    """Parse WebVTT or SRT text into ``(start_seconds, end_seconds, text)`` cues."""
    return [(c.start_in_seconds, c.end_in_seconds, c.text.strip()) for c in _captions(transcript)]


def transcript_as_webvtt(transcript: str) -> str:
    """The transcript (WebVTT or SRT) as WebVTT, for a self-hosted video's captions track."""
    blocks = ["WEBVTT"]
    for caption in _captions(transcript):
        blocks.append(f"{caption.start} --> {caption.end}\n{caption.text.strip()}")
    return "\n\n".join(blocks) + "\n"


@functools.lru_cache(maxsize=_REMEMBERED_CUTS)
def cut_transcript(transcript: str, start: float = 0, end: float | None = None) -> str:
    """Return the text of the cues that overlap the ``start``-``end`` span, one per line."""
    lines = [
        text
        for cue_start, cue_end, text in parse_transcript(transcript)
        if cue_end > start and (end is None or cue_start < end) and text
    ]
    return "\n".join(lines)


def previous_stage(stage: Stage) -> Stage | None:
    """The stage just before ``stage`` in its lesson, or ``None`` for the first."""
    before = Q(position__lt=stage.position) | Q(position=stage.position, id__lt=stage.id)
    return stage.lesson.stages.filter(before).order_by("-position", "-id").first()
