"""Validation of lessons and stages, shared by the admin and the YAML import.

Both ways of authoring a lesson go through these forms, so a stage that the
admin would refuse can never arrive through a file, and the other way round.
"""

from __future__ import annotations

import re
from typing import Any

from django import forms

from lessons_app.content import AnchorNotFound, TranscriptError, cut_excerpt, parse_transcript
from lessons_app.models import Lesson, Stage

YOUTUBE_ID = re.compile(r"^[A-Za-z0-9_-]{11}$")
# Authors often paste the whole address; these are the shapes YouTube hands out.
_YOUTUBE_URL = re.compile(
    r"^(?:https?://)?(?:www\.|m\.)?(?:youtube\.com/(?:watch\?(?:.*&)?v=|embed/|shorts/|live/)"
    r"|youtu\.be/|youtube-nocookie\.com/embed/)(?P<id>[A-Za-z0-9_-]{11})(?:[?&#].*)?$"
)

KIND_FIELDS: dict[str, tuple[str, ...]] = {
    Stage.Kind.ARTICLE: ("body", "from_text", "to_text"),
    Stage.Kind.VIDEO: ("video_id", "start_seconds", "end_seconds", "transcript"),
    Stage.Kind.CHAT: (
        "instructions",
        "show_user_previous_content",
        "show_tutor_previous_content",
        "opening_message",
    ),
}
COMMON_STAGE_FIELDS: tuple[str, ...] = ("kind", "title")
# The fields an author writes, in the order the admin and the YAML files show them.
STAGE_CONTENT_FIELDS: tuple[str, ...] = COMMON_STAGE_FIELDS + tuple(
    name for fields in KIND_FIELDS.values() for name in fields
)
LESSON_FIELDS: tuple[str, ...] = ("title", "slug", "summary", "is_published", "position")


def youtube_id(value: str) -> str:
    """Return the 11-character video id from an id or a pasted YouTube address.

    Raises ``forms.ValidationError`` for anything else, so a typo is caught at
    authoring time rather than as a broken player on the learner's page.
    """
    value = value.strip()
    if YOUTUBE_ID.match(value):
        return value
    match = _YOUTUBE_URL.match(value)
    if match:
        return match.group("id")
    raise forms.ValidationError(
        "A YouTube video id is 11 characters of letters, digits, '-' and '_' "
        "(the part after v= in the address), e.g. 'aB3_x9-KqL0'."
    )


EMPTY_BODY_ERROR = "An article stage needs a body."


def normalise_newlines(cleaned: dict[str, Any]) -> None:
    """Store text with ``\n`` line ends whatever the browser sent.

    Browsers submit textareas with ``\r\n``; left alone, exports would fall
    back to escaped strings instead of readable ``|`` blocks.
    """
    for name, value in cleaned.items():
        if isinstance(value, str) and "\r" in value:
            cleaned[name] = value.replace("\r\n", "\n").replace("\r", "\n")


def _field_default(name: str) -> Any:
    field = Stage._meta.get_field(name)
    return field.get_default()


class LessonForm(forms.ModelForm):
    """The lesson's own fields; used by the YAML import to validate like the admin does."""

    class Meta:
        model = Lesson
        fields = list(LESSON_FIELDS)

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean()
        normalise_newlines(cleaned)
        return cleaned


class StageAdminForm(forms.ModelForm):
    """A stage, checked according to its kind.

    Fields that do not belong to the chosen kind are reset to their defaults on
    save: they are hidden in the admin and absent from YAML, so keeping stale
    values would only make exports and imports disagree.
    """

    # Longer than the stored id, so that a pasted address can be reduced to it.
    video_id = forms.CharField(
        label=Stage._meta.get_field("video_id").verbose_name.capitalize(),
        max_length=300,
        required=False,
        help_text="The 11 characters after v= in the video's address, or the whole address.",
        widget=forms.TextInput(attrs={"size": 40}),
    )

    class Meta:
        model = Stage
        fields = ["lesson", "position", *STAGE_CONTENT_FIELDS]
        widgets = {
            "title": forms.TextInput(attrs={"size": 60}),
            "body": forms.Textarea(attrs={"rows": 16, "cols": 90}),
            "from_text": forms.Textarea(attrs={"rows": 2, "cols": 90}),
            "to_text": forms.Textarea(attrs={"rows": 2, "cols": 90}),
            "transcript": forms.Textarea(attrs={"rows": 10, "cols": 90}),
            "instructions": forms.Textarea(attrs={"rows": 8, "cols": 90}),
            "opening_message": forms.Textarea(attrs={"rows": 3, "cols": 90}),
        }

    def clean_video_id(self) -> str:
        value = (self.cleaned_data.get("video_id") or "").strip()
        if not value:
            return ""
        return youtube_id(value)

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean()
        normalise_newlines(cleaned)
        kind = cleaned.get("kind")
        if kind == Stage.Kind.ARTICLE:
            self._clean_article(cleaned)
        elif kind == Stage.Kind.VIDEO:
            self._clean_video(cleaned)
        elif kind == Stage.Kind.CHAT:
            self._clean_chat(cleaned)
        if kind in KIND_FIELDS:
            for other_kind, names in KIND_FIELDS.items():
                if other_kind == kind:
                    continue
                for name in names:
                    if name in self.fields:
                        cleaned[name] = _field_default(name)
        return cleaned

    def _has_error(self, name: str) -> bool:
        return name in self.errors

    def _clean_article(self, cleaned: dict[str, Any]) -> None:
        body = cleaned.get("body") or ""
        if not body.strip():
            if not self._has_error("body"):
                self.add_error("body", EMPTY_BODY_ERROR)
            return
        try:
            cut_excerpt(body, cleaned.get("from_text") or "", cleaned.get("to_text") or "")
        except AnchorNotFound as exc:
            self.add_error(exc.field, str(exc))

    def _clean_video(self, cleaned: dict[str, Any]) -> None:
        if not cleaned.get("video_id") and not self._has_error("video_id"):
            self.add_error("video_id", "A video stage needs a YouTube video id.")
        start = cleaned.get("start_seconds")
        end = cleaned.get("end_seconds")
        if start is not None and end is not None and end <= start:
            self.add_error(
                "end_seconds",
                f"The end ({end} s) must be after the start ({start} s); "
                "leave it empty to play to the end of the video.",
            )
        transcript = cleaned.get("transcript") or ""
        try:
            parse_transcript(transcript)
        except TranscriptError as exc:
            self.add_error("transcript", str(exc))

    def _clean_chat(self, cleaned: dict[str, Any]) -> None:
        if not (cleaned.get("instructions") or "").strip() and not self._has_error("instructions"):
            self.add_error("instructions", "A chat stage needs instructions for the tutor.")
