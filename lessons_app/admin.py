"""Authoring lessons in the Django admin, and read-only views of learners' activity."""

from __future__ import annotations

from adminsortable2.admin import SortableAdminBase, SortableStackedInline
from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.db.models import Count, Max, Q, QuerySet
from django.db.models.functions import Coalesce
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.urls import path, reverse
from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString
from django.views.decorators.http import require_POST

from lessons_app import yaml_io
from lessons_app.admin_learners import LessonLearnersMixin, TranscriptMixin
from lessons_app.admin_teaching import (
    LessonObjectiveInline,
    QuestionInline,
    StageObjectiveInline,
    recording_note,
)
from lessons_app.content import AnchorNotFound, TranscriptError, cut_excerpt
from lessons_app.forms import LESSON_FIELD_NAMES, LessonForm, StageAdminForm, normalise_newlines
from lessons_app.models import Conversation, Lesson, LessonProgress, Message, Stage
from lessons_app.rendering import RefusedImage, refused_images
from lessons_app.stage_kinds import (
    EMPTY_BODY_ERROR,
    KINDS,
    StageKind,
    kind_of,
    previous_stage_content,
    stage_content,
)

PREVIEW_CHARS = 600
# How the conversation inline marks the provider of a turn the spending guard refused.
REFUSED_LABEL = "refused"
STAGE_ADMIN_JS = "lessons/admin_stage.js"
# The admin script shows only the fieldset whose class matches the chosen kind.
KIND_FIELDSET_CLASS = "stage-kind"
NO_TRANSCRIPT_WARNING = "No transcript: the tutor cannot know what this video says."
# The live excerpt preview refuses bodies longer than this (characters): no real
# article comes near it, and it keeps a stray paste from tying up a worker.
MAX_PREVIEW_BODY_CHARS = 1_000_000
# The admin URL name of the live preview, under the admin site's namespace.
LIVE_PREVIEW_URL_NAME = "lessons_app_stage_excerpt_preview"
# The element around a stage's preview; admin_stage.js updates it as the article is edited.
PREVIEW_CLASS = "stage-preview"

# Classes of lessons/admin.css (the Content-Security-Policy allows no inline style).
STAGE_ADMIN_CSS = "lessons/admin.css"
_PREVIEW_CLASS = "tutor-preview-box"
_WARNING_CLASS = "tutor-warning"


def _fieldset_rows(kind: StageKind) -> list[str | tuple[str, ...]]:
    """The kind's fields, those marked ``beside_previous`` on one line with the one before."""
    rows: list[list[str]] = []
    for field in kind.fields:
        if field.beside_previous and rows:
            rows[-1].append(field.name)
        else:
            rows.append([field.name])
    return [row[0] if len(row) == 1 else tuple(row) for row in rows]


def _kind_fieldset(kind: StageKind) -> tuple[str, dict]:
    return (
        kind.label,
        {
            "classes": [KIND_FIELDSET_CLASS, f"{KIND_FIELDSET_CLASS}-{kind.value}"],
            "description": kind.admin_help,
            "fields": _fieldset_rows(kind),
        },
    )


KIND_FIELDSETS = [_kind_fieldset(kind) for kind in KINDS.values()]
PREVIEW_FIELDSET = (
    "Preview",
    {
        "description": (
            "What learners see of this stage, as last saved. While you edit an article's "
            "body or anchors, the excerpt they give is shown instead, before you save."
        ),
        "fields": ["excerpt_preview"],
    },
)


def _shorten(text: str) -> str:
    if len(text) <= PREVIEW_CHARS:
        return text
    return f"{text[:PREVIEW_CHARS]}… ({len(text)} characters in all)"


def _preview_box(text: str) -> SafeString:
    return format_html('<div class="{}">{}</div>', _PREVIEW_CLASS, _shorten(text))


def _warning(text: str) -> SafeString:
    return format_html('<p class="{}">⚠ {}</p>', _WARNING_CLASS, text)


def video_lacks_transcript(stage: Stage) -> bool:
    return stage.kind == Stage.Kind.VIDEO and not stage.transcript.strip()


def stage_preview(stage: Stage | None) -> SafeString | str:
    """The excerpt, transcript span or previous content a saved stage shows; escaped."""
    if stage is None or stage.pk is None:
        return "Save the stage to see a preview."
    kind = kind_of(stage)
    if kind.builds_on_previous:
        return _previous_content_preview(stage)
    if kind.content is None:
        return ""
    if video_lacks_transcript(stage):
        return _warning(NO_TRANSCRIPT_WARNING)
    try:
        content = stage_content(stage)
    except (AnchorNotFound, TranscriptError) as exc:
        return _warning(str(exc))
    if not content and kind.empty_preview:
        return _warning(kind.empty_preview)
    return format_html(
        "{}{}",
        format_html_join(
            "",
            "{}",
            ((_warning(_refused_image_message(image)),) for image in refused_images(content)),
        ),
        _preview_box(content),
    )


def _refused_image_message(image: RefusedImage) -> str:
    return f"Learners will not see the image {image.src}: {image.reason}."


def _previous_content_preview(stage: Stage) -> SafeString | str:
    try:
        previous = previous_stage_content(stage)
    except (AnchorNotFound, TranscriptError) as exc:
        return _warning(f"The stage before cannot be shown: {exc}")
    if not previous:
        return "The stage before has no content to show or give to the tutor."
    return format_html(
        "<p>Content of the stage before (shown to the learner: {}; given to the tutor: {}):</p>{}",
        "yes" if stage.show_user_previous_content else "no",
        "yes" if stage.show_tutor_previous_content else "no",
        _preview_box(previous),
    )


def live_excerpt(data) -> tuple[dict[str, str], int]:
    """The excerpt that unsaved ``body``/``from_text``/``to_text`` give: JSON and status.

    ``{"excerpt": text}`` (shortened like the saved preview) or ``{"error": message}``
    with the stage form's own wording; 400 only for a body too long to preview.
    """
    fields = {name: data.get(name, "") for name in ("body", "from_text", "to_text")}
    if len(fields["body"]) > MAX_PREVIEW_BODY_CHARS:
        return {
            "error": f"The body is too long to preview "
            f"(more than {MAX_PREVIEW_BODY_CHARS:,} characters)."
        }, 400
    normalise_newlines(fields)
    if not fields["body"].strip():
        return {"error": EMPTY_BODY_ERROR}, 200
    try:
        return {"excerpt": _shorten(cut_excerpt(**fields))}, 200
    except AnchorNotFound as exc:
        return {"error": str(exc)}, 200


class StagePreviewMixin:
    @admin.display(description="Excerpt preview")
    def excerpt_preview(self, obj: Stage | None) -> SafeString:
        """The saved preview, in an element that tells admin_stage.js how to refresh it."""
        return format_html(
            '<div class="{}" data-live-url="{}" data-box-class="{}" data-warning-class="{}">'
            "{}</div>",
            PREVIEW_CLASS,
            reverse(f"{self.admin_site.name}:{LIVE_PREVIEW_URL_NAME}"),
            _PREVIEW_CLASS,
            _WARNING_CLASS,
            stage_preview(obj),
        )


class StageInline(StagePreviewMixin, SortableStackedInline):
    model = Stage
    form = StageAdminForm
    # adminsortable2 takes the first ordering field as the one to drag; the
    # model's ordering starts with "lesson", so the inline states its own.
    ordering = ["position", "id"]
    extra = 0
    show_change_link = True
    readonly_fields = ["excerpt_preview"]
    fieldsets = [
        (None, {"fields": ["kind", "title", "position"]}),
        *KIND_FIELDSETS,
        PREVIEW_FIELDSET,
    ]


class HasTranscriptFilter(admin.SimpleListFilter):
    title = "transcript"
    parameter_name = "transcript"

    def lookups(self, request, model_admin):
        return [("yes", "Video with transcript"), ("no", "Video without transcript")]

    def queryset(self, request, queryset):
        videos = queryset.filter(kind=Stage.Kind.VIDEO)
        if self.value() == "yes":
            return videos.exclude(transcript="")
        if self.value() == "no":
            return videos.filter(transcript="")
        return queryset


@admin.register(Lesson)
class LessonAdmin(LessonLearnersMixin, SortableAdminBase, admin.ModelAdmin):
    form = LessonForm
    inlines = [StageInline, LessonObjectiveInline]
    list_display = [
        "title",
        "slug",
        "is_published",
        "stage_count",
        "videos_without_transcript",
        "position",
        "learners_link",
    ]
    list_editable = ["is_published", "position"]
    list_filter = ["is_published"]
    search_fields = ["title", "slug", "summary"]
    prepopulated_fields = {"slug": ["title"]}
    fields = list(LESSON_FIELD_NAMES)
    actions = ["export_yaml"]

    class Media:
        js = [STAGE_ADMIN_JS]
        css = {"all": [STAGE_ADMIN_CSS]}

    def get_queryset(self, request: HttpRequest) -> QuerySet[Lesson]:
        return (
            super()
            .get_queryset(request)
            .annotate(
                _stage_count=Count("stages", distinct=True),
                _missing_transcripts=Count(
                    "stages",
                    filter=Q(stages__kind=Stage.Kind.VIDEO, stages__transcript=""),
                    distinct=True,
                ),
            )
        )

    @admin.display(description="Stages", ordering="_stage_count")
    def stage_count(self, obj: Lesson) -> int:
        return obj._stage_count

    @admin.display(description="Videos without transcript")
    def videos_without_transcript(self, obj: Lesson) -> SafeString | str:
        if obj._missing_transcripts:
            return format_html(
                '<span class="{}">⚠ {}</span>', _WARNING_CLASS, obj._missing_transcripts
            )
        return "—"

    @admin.action(description="Export selected lessons as YAML")
    def export_yaml(self, request: HttpRequest, queryset: QuerySet[Lesson]) -> HttpResponse:
        text = yaml_io.export_lessons(list(queryset.values_list("slug", flat=True)))
        response = HttpResponse(text, content_type="application/x-yaml; charset=utf-8")
        response["Content-Disposition"] = 'attachment; filename="lessons.yaml"'
        return response


@admin.register(Stage)
class StageAdmin(StagePreviewMixin, admin.ModelAdmin):
    form = StageAdminForm
    list_display = ["title", "lesson", "kind", "position", "transcript_status"]
    list_filter = ["kind", HasTranscriptFilter, "lesson"]
    list_select_related = ["lesson"]
    search_fields = ["title", "lesson__title", "lesson__slug"]
    ordering = ["lesson__position", "lesson__title", "position", "id"]
    readonly_fields = ["excerpt_preview", "recording"]
    fieldsets = [
        (None, {"fields": ["lesson", "position", "kind", "title"]}),
        *KIND_FIELDSETS,
        (
            "Recording (chat stages)",
            {
                "description": "Whether the tutor records learning objectives, answers and "
                "hints on a chat stage with objectives or questions.",
                "fields": ["recording"],
            },
        ),
        PREVIEW_FIELDSET,
    ]
    inlines = [StageObjectiveInline, QuestionInline]

    class Media:
        js = [STAGE_ADMIN_JS]
        css = {"all": [STAGE_ADMIN_CSS]}

    def get_urls(self):
        view = self.admin_site.admin_view(require_POST(self.live_preview_view))
        return [path("excerpt-preview/", view, name=LIVE_PREVIEW_URL_NAME), *super().get_urls()]

    def live_preview_view(self, request: HttpRequest) -> JsonResponse:
        """The excerpt of an article being edited, for admin_stage.js; nothing is saved."""
        if not (self.has_add_permission(request) or self.has_change_permission(request)):
            raise PermissionDenied
        payload, status = live_excerpt(request.POST)
        return JsonResponse(payload, status=status)

    @admin.display(description="Objectives recorded")
    def recording(self, obj: Stage | None) -> SafeString | str:
        return recording_note()

    def get_inlines(self, request: HttpRequest, obj: Stage | None) -> list:
        """Objectives and questions, for a saved stage of a kind that teaches (chat)."""
        if obj is None or not kind_of(obj).teaches:
            return []
        return super().get_inlines(request, obj)

    def get_form(self, request: HttpRequest, obj=None, change=False, **kwargs):
        form = super().get_form(request, obj, change=change, **kwargs)
        if obj is None:
            # Left empty, a new stage goes after the lesson's last one (see save_model),
            # as one added in the lesson's sortable inline does.
            position = form.base_fields["position"]
            position.required = False
            position.initial = None
            position.help_text = "Empty: after the lesson's last stage."
        return form

    def save_model(self, request: HttpRequest, obj: Stage, form, change: bool) -> None:
        if not change and form.cleaned_data.get("position") is None:
            highest = Stage.objects.filter(lesson=obj.lesson_id).aggregate(
                highest=Coalesce(Max("position"), 0)
            )["highest"]
            obj.position = highest + 1
        super().save_model(request, obj, form, change)

    @admin.display(description="Transcript")
    def transcript_status(self, obj: Stage) -> SafeString | str:
        if obj.kind != Stage.Kind.VIDEO:
            return "—"
        if video_lacks_transcript(obj):
            return format_html(
                '<span class="{}" title="{}">⚠ missing</span>',
                _WARNING_CLASS,
                NO_TRANSCRIPT_WARNING,
            )
        return "yes"


@admin.register(LessonProgress)
class LessonProgressAdmin(admin.ModelAdmin):
    """Progress is the learners' own record: staff may look at it or reset it, not edit it."""

    list_display = ["user", "lesson", "current_stage", "completed", "updated_at", "completed_at"]
    list_filter = ["completed", "lesson"]
    list_select_related = ["user", "lesson", "current_stage"]
    search_fields = ["user__username", "user__email", "lesson__title"]
    readonly_fields = [
        "user",
        "lesson",
        "current_stage",
        "completed",
        "started_at",
        "updated_at",
        "completed_at",
    ]
    date_hierarchy = "updated_at"

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj=None) -> bool:
        return False


class MessageInline(admin.TabularInline):
    model = Message
    extra = 0
    can_delete = False
    fields = [
        "created_at",
        "role",
        "content",
        "stage",
        "status",
        "error_code",
        "attributed_provider",
        "attributed_model",
        "input_tokens",
        "output_tokens",
        "cost_usd",
        "time_to_first_token_ms",
        "total_time_ms",
    ]
    readonly_fields = fields
    ordering = ["created_at", "id"]

    def get_queryset(self, request: HttpRequest) -> QuerySet[Message]:
        return super().get_queryset(request).select_related("refusal")

    @admin.display(description="provider name")
    def attributed_provider(self, message: Message) -> str:
        """The provider that answered; for a refused turn, the one that refused it, so marked.

        A refused reply names no provider itself (no report may count it as a turn);
        its refusal does.
        """
        provider = message.turn_record().provider
        if message.refusal is None:
            return provider
        return f"{provider} ({REFUSED_LABEL}: {message.refusal.get_code_display()})"

    @admin.display(description="model")
    def attributed_model(self, message: Message) -> str:
        return message.turn_record().model

    def has_add_permission(self, request: HttpRequest, obj=None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj=None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj=None) -> bool:
        return False


@admin.register(Conversation)
class ConversationAdmin(TranscriptMixin, admin.ModelAdmin):
    """Chat histories, for reviewing the tutor; deleting one is allowed, editing is not."""

    inlines = [MessageInline]
    list_display = ["user", "lesson", "message_count", "created_at", "updated_at"]
    list_filter = ["lesson"]
    list_select_related = ["user", "lesson"]
    search_fields = ["user__username", "user__email", "lesson__title"]
    readonly_fields = ["user", "lesson", "created_at", "updated_at"]
    date_hierarchy = "updated_at"

    def get_queryset(self, request: HttpRequest) -> QuerySet[Conversation]:
        return super().get_queryset(request).annotate(_message_count=Count("messages"))

    @admin.display(description="Messages", ordering="_message_count")
    def message_count(self, obj: Conversation) -> int:
        return obj._message_count

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj=None) -> bool:
        return False


# Registered in modules of their own to keep this file about lessons.
from lessons_app import admin_eval_runs, admin_images  # noqa: E402, F401
