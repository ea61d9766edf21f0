"""Validation of lessons and stages, shared by the admin and the YAML import.

Both ways of authoring a lesson go through these forms, so a stage that the
admin would refuse can never arrive through a file, and the other way round.
"""

from __future__ import annotations

import re
from typing import Any

from django import forms

from lessons_app.models import Lesson, Stage
from lessons_app.stage_kinds import (
    KINDS,
    STAGE_CONTENT_FIELDS,
    AuthoredField,
    StageKind,
    ValueType,
)

YOUTUBE_ID = re.compile(r"^[A-Za-z0-9_-]{11}$")
# Authors often paste the whole address; these are the shapes YouTube hands out.
_YOUTUBE_URL = re.compile(
    r"^(?:https?://)?(?:www\.|m\.)?(?:youtube\.com/(?:watch\?(?:.*&)?v=|embed/|shorts/|live/)"
    r"|youtu\.be/|youtube-nocookie\.com/embed/)(?P<id>[A-Za-z0-9_-]{11})(?:[?&#].*)?$"
)

# A lesson's own fields, as the admin and the lessons files show them.
LESSON_FIELDS: tuple[AuthoredField, ...] = (
    AuthoredField("title", required=True),
    AuthoredField("slug", required=True),
    AuthoredField("summary"),
    AuthoredField("is_published", yaml_key="published", type=ValueType.BOOLEAN),
    AuthoredField("position", type=ValueType.INTEGER),
)
LESSON_FIELD_NAMES: tuple[str, ...] = tuple(field.name for field in LESSON_FIELDS)
# Kind fields are this wide when edited in a textarea.
_TEXTAREA_COLS = 90


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


def normalise_newlines(cleaned: dict[str, Any]) -> None:
    """Store text with ``\n`` line ends whatever the browser sent.

    Browsers submit textareas with ``\r\n``; left alone, exports would fall
    back to escaped strings instead of readable ``|`` blocks.
    """
    for name, value in cleaned.items():
        if isinstance(value, str) and "\r" in value:
            cleaned[name] = value.replace("\r\n", "\n").replace("\r", "\n")


def _is_blank(value: Any) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def _field_default(name: str) -> Any:
    field = Stage._meta.get_field(name)
    return field.get_default()


class LessonForm(forms.ModelForm):
    """The lesson's own fields; used by the YAML import to validate like the admin does."""

    class Meta:
        model = Lesson
        fields = list(LESSON_FIELD_NAMES)

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
            **{
                field.name: forms.Textarea(
                    attrs={"rows": field.textarea_rows, "cols": _TEXTAREA_COLS}
                )
                for kind in KINDS.values()
                for field in kind.fields
                if field.textarea_rows
            },
        }

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if "tutoring_mode" in self.fields:
            # Left out (a form or file from before modes existed): today's open chat.
            self.fields["tutoring_mode"].required = False

    def clean_tutoring_mode(self) -> str:
        return self.cleaned_data.get("tutoring_mode") or _field_default("tutoring_mode")

    def clean_video_id(self) -> str:
        value = (self.cleaned_data.get("video_id") or "").strip()
        if not value:
            return ""
        return youtube_id(value)

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean()
        normalise_newlines(cleaned)
        kind = KINDS.get(cleaned.get("kind"))
        if kind is None:
            return cleaned  # the kind field says what is wrong
        for field in kind.fields:
            # A field the form has refused already keeps that, more precise, message.
            blank = field.blank_error and _is_blank(cleaned.get(field.name))
            if blank and field.name not in self.errors:
                self.add_error(field.name, field.blank_error)
        for name, message in kind.check(cleaned):
            self.add_error(name, message)
        self._reset_other_kinds(kind, cleaned)
        return cleaned

    def _reset_other_kinds(self, kind: StageKind, cleaned: dict[str, Any]) -> None:
        for other in KINDS.values():
            if other is kind:
                continue
            for name in other.field_names:
                if name in self.fields:
                    cleaned[name] = _field_default(name)
