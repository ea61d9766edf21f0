"""``tutor_eval`` runs in the admin, read-only: a run is a measurement (docs/evaluation.md)."""

from __future__ import annotations

from django.contrib import admin
from django.http import HttpRequest

from lessons_app.models import EvalRun


@admin.register(EvalRun)
class EvalRunAdmin(admin.ModelAdmin):
    list_display = ["started_at", "lesson", "provider_name", "model", "judge_name", "score_shown"]
    list_filter = ["lesson", "provider_name"]
    list_select_related = ["lesson"]
    readonly_fields = [
        "lesson",
        "provider",
        "provider_name",
        "model",
        "judge_name",
        "started_at",
        "conversations",
        "score",
        "report",
    ]

    @admin.display(description="score", ordering="score")
    def score_shown(self, run: EvalRun) -> str:
        return "—" if run.score is None else f"{run.score:.0%}"

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj=None) -> bool:
        return False
