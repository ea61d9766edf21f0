"""Authoring what a chat stage teaches: its objectives, its questions and their hints.

The stage's admin page lists its objectives and questions; a question's own page
lists its hints in order (Django admin inlines do not nest). Lesson-wide objectives
are edited on the lesson's page.
"""

from __future__ import annotations

from django.contrib import admin
from django.http import HttpRequest
from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString

from lessons_app.models import Hint, LearningObjective, Question
from llm_app.models import ProviderConfig
from llm_app.providers import ResolvedProvider
from llm_app.tool_support import why_no_tools

RECORDS_FOR_ALL = (
    "Every enabled provider can call tools: the tutor records objectives, answers and hints."
)


class LessonObjectiveInline(admin.TabularInline):
    """Objectives on the lesson's page: lesson-wide ones, and those of its stages."""

    model = LearningObjective
    fk_name = "lesson"
    fields = ["position", "text", "stage"]
    ordering = ["position", "id"]
    extra = 0
    verbose_name_plural = "learning objectives (leave the stage empty for the whole lesson)"


class StageObjectiveInline(admin.TabularInline):
    model = LearningObjective
    fk_name = "stage"
    fields = ["position", "text"]
    ordering = ["position", "id"]
    extra = 0
    verbose_name_plural = "learning objectives of this stage"


class QuestionInline(admin.StackedInline):
    model = Question
    fields = ["position", "prompt", "expected_answer", "rubric", "hint_count"]
    readonly_fields = ["hint_count"]
    ordering = ["position", "id"]
    extra = 0
    show_change_link = True

    @admin.display(description="Hints")
    def hint_count(self, obj: Question | None) -> str:
        if obj is None or obj.pk is None:
            return "Save the question, then open it to add hints."
        count = obj.hints.count()
        return f"{count} (open the question to edit them)"


class HintInline(admin.TabularInline):
    model = Hint
    fields = ["position", "text"]
    ordering = ["position", "id"]
    extra = 1


@admin.register(Question)
class QuestionAdmin(admin.ModelAdmin):
    list_display = ["prompt", "stage", "position"]
    list_select_related = ["stage", "stage__lesson"]
    search_fields = ["prompt", "stage__title", "stage__lesson__slug"]
    fields = ["stage", "position", "prompt", "expected_answer", "rubric"]
    inlines = [HintInline]

    def has_module_permission(self, request: HttpRequest) -> bool:
        # Reached from the stage's page; the index lists lessons and stages only.
        return False


def providers_that_record_nothing() -> list[tuple[str, str]]:
    """Enabled providers the tutor cannot record objectives with, and why, for staff."""
    found = []
    for config in ProviderConfig.objects.filter(enabled=True).order_by("name"):
        why = why_no_tools(ResolvedProvider.from_config(config, with_fallbacks=False))
        if why:
            found.append((config.name, why))
    return found


def recording_note() -> SafeString | str:
    """Which providers will not record objectives, answers or hints on a teaching stage.

    With them the stage still works: the tutor follows its mode's instructions, with
    no tools (docs/prompts.md).
    """
    found = providers_that_record_nothing()
    if not found:
        return RECORDS_FOR_ALL
    return format_html(
        '<p class="tutor-warning">⚠ With these providers the tutor teaches in the stage\'s '
        "mode but records no objectives, answers or hints (it is given no tools):</p>"
        "<ul>{}</ul>",
        format_html_join("", "<li>{}: {}</li>", found),
    )
