"""A/B experiments in the admin: arms, switching on and off, and links to the results.

The results page is served by the lessons side, which stores the replies it
counts; this admin links to it by URL name (:mod:`llm_app.admin_urls`).
"""

from __future__ import annotations

from typing import Any

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.urls import NoReverseMatch, reverse
from django.utils.html import format_html
from django.utils.safestring import SafeString

from llm_app import experiments
from llm_app.admin_urls import RESULTS_URL_NAME
from llm_app.models import Experiment, ExperimentArm

ARMS_HELP = (
    "Each learner is placed in one arm for good, by a hash of their id and the experiment's "
    "name. Changing weights or arms while the experiment is active moves some learners to "
    "another arm. An arm whose provider is disabled is skipped: its learners are spread over "
    "the other arms until it is enabled again."
)


class ExperimentArmInline(admin.TabularInline):
    model = ExperimentArm
    fields = ["provider", "weight", "share", "provider_enabled"]
    readonly_fields = ["share", "provider_enabled"]
    verbose_name = "arm"
    verbose_name_plural = "arms"

    def get_extra(self, request: HttpRequest, obj: Experiment | None = None, **kwargs) -> int:
        return 2 if obj is None else 0

    @admin.display(description="Share of learners")
    def share(self, arm: ExperimentArm) -> str:
        if arm.pk is None:
            return "—"
        total = sum(a.weight for a in arm.experiment.arms.all())
        return f"{100 * arm.weight / total:.0f}%" if total else "—"

    @admin.display(boolean=True, description="Provider enabled")
    def provider_enabled(self, arm: ExperimentArm) -> bool | None:
        return arm.provider.enabled if arm.pk else None


@admin.register(Experiment)
class ExperimentAdmin(admin.ModelAdmin):
    list_display = ["name", "is_active", "arm_summary", "results_link", "updated_at"]
    list_filter = ["is_active"]
    search_fields = ["name", "description"]
    # Switched only by the actions, which keep "at most one active" in one transaction.
    readonly_fields = ["is_active", "created_at", "updated_at"]
    fieldsets = [
        (None, {"fields": ["name", "description"], "description": ARMS_HELP}),
        (
            "Status",
            {
                "fields": ["is_active", "created_at", "updated_at"],
                "description": "Use the Activate / Deactivate actions on the experiment list.",
            },
        ),
    ]
    inlines = [ExperimentArmInline]
    actions = ["activate", "deactivate"]
    change_form_template = "admin/llm_app/experiment/change_form.html"

    def get_queryset(self, request: HttpRequest) -> QuerySet[Experiment]:
        return super().get_queryset(request).prefetch_related("arms__provider")

    # --- List columns ------------------------------------------------------------

    @admin.display(description="Arms")
    def arm_summary(self, experiment: Experiment) -> str:
        arms = experiment.arms.all()
        if not arms:
            return "no arms"
        return ", ".join(
            f"{arm.provider.name} (weight {arm.weight})"
            + ("" if arm.provider.enabled else " (disabled)")
            for arm in arms
        )

    @admin.display(description="Results")
    def results_link(self, experiment: Experiment) -> SafeString | None:
        url = self.results_url(experiment)
        return format_html('<a href="{}">Results</a>', url) if url else None

    # --- Actions -----------------------------------------------------------------

    @admin.action(description="Activate (deactivates any other)")
    def activate(self, request: HttpRequest, queryset: QuerySet[Experiment]) -> None:
        if queryset.count() != 1:
            self.message_user(
                request,
                "Select exactly one experiment to activate: only one can run at a time.",
                messages.ERROR,
            )
            return
        experiment = queryset.get()
        experiments.activate(experiment)
        self.message_user(
            request,
            f"{experiment.name} is now the active experiment; the next message uses it.",
            messages.SUCCESS,
        )
        if experiments.usable_arm_count(experiment) == 0:
            self.message_user(
                request,
                f"{experiment.name} has no arm with an enabled provider, so learners get "
                "the default provider until you add one.",
                messages.WARNING,
            )

    @admin.action(description="Deactivate")
    def deactivate(self, request: HttpRequest, queryset: QuerySet[Experiment]) -> None:
        stopped = experiments.deactivate(queryset)
        if stopped:
            self.message_user(
                request,
                "Experiment stopped; learners get the default provider from the next message.",
                messages.SUCCESS,
            )
        else:
            self.message_user(request, "None of those experiments was active.", messages.INFO)

    # --- Results ---------------------------------------------------------------

    def results_url(self, experiment: Experiment) -> str | None:
        """The results page's address, or ``None`` on a site that does not serve it."""
        name = f"{self.admin_site.name}:{RESULTS_URL_NAME}"
        try:
            return reverse(name, args=[experiment.pk], current_app=self.admin_site.name)
        except NoReverseMatch:
            return None

    def render_change_form(
        self,
        request: HttpRequest,
        context: dict[str, Any],
        add: bool = False,
        change: bool = False,
        form_url: str = "",
        obj: Experiment | None = None,
    ) -> HttpResponse:
        context["results_url"] = self.results_url(obj) if obj is not None else None
        return super().render_change_form(request, context, add, change, form_url, obj)
