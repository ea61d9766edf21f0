"""A/B experiments in the admin: arms, switching on and off, and per-arm results."""

from __future__ import annotations

from django.contrib import admin, messages
from django.contrib.admin.utils import unquote
from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.http import Http404, HttpRequest, HttpResponse
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html
from django.utils.safestring import SafeString
from django.utils.text import slugify

from llm_app import experiment_results, experiments
from llm_app.display import format_cost, format_count, format_ms
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
    def results_link(self, experiment: Experiment) -> SafeString:
        return format_html(
            '<a href="{}">Results</a>', reverse(self._url_name("results"), args=[experiment.pk])
        )

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

    # --- Results -----------------------------------------------------------------

    def _url_name(self, view: str) -> str:
        return f"admin:{self.opts.app_label}_{self.opts.model_name}_{view}"

    def get_urls(self):
        prefix = f"{self.opts.app_label}_{self.opts.model_name}"
        return [
            path(
                "<path:object_id>/results/",
                self.admin_site.admin_view(self.results_view),
                name=f"{prefix}_results",
            ),
            path(
                "<path:object_id>/results.csv",
                self.admin_site.admin_view(self.results_csv_view),
                name=f"{prefix}_results_csv",
            ),
            *super().get_urls(),
        ]

    def _viewable_experiment(self, request: HttpRequest, object_id: str) -> Experiment:
        experiment = self.get_object(request, unquote(object_id))
        if experiment is None:
            raise Http404("No such experiment.")
        if not self.has_view_permission(request, experiment):
            raise PermissionDenied
        return experiment

    def results_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        experiment = self._viewable_experiment(request, object_id)
        results = experiment_results.arm_results(experiment)
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "original": experiment,
            "title": f"Results: {experiment.name}",
            "subtitle": None,
            "rows": [_row(r) for r in results],
            "charts": experiment_results.charts(results),
            "csv_url": reverse(self._url_name("results_csv"), args=[experiment.pk]),
            "change_url": reverse(self._url_name("change"), args=[experiment.pk]),
            "has_view_permission": True,
        }
        return TemplateResponse(request, "admin/llm_app/experiment/results.html", context)

    def results_csv_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        experiment = self._viewable_experiment(request, object_id)
        body = experiment_results.results_csv(experiment_results.arm_results(experiment))
        filename = f"experiment-{slugify(experiment.name) or experiment.pk}-results.csv"
        response = HttpResponse(body, content_type="text/csv; charset=utf-8")
        response["Content-Disposition"] = f'attachment; filename="{filename}"'
        return response


def _row(result: experiment_results.ArmResult) -> dict[str, object]:
    """Display strings for one table row, formatted once here rather than in the template."""
    format_rate = experiment_results.format_rate
    return {
        "arm_id": result.arm_id,
        "provider": result.provider,
        "model": result.model,
        "weight": result.weight,
        "learners": result.learners,
        "turns": result.turns,
        "thumbs_up": format_rate(result.thumbs_up_rate, result.thumbs_up, result.rated),
        "mean_ttft": format_ms(result.mean_ttft_ms),
        "error_rate": format_rate(result.error_rate, result.errors, result.turns, empty="—"),
        "tokens": f"{format_count(result.input_tokens)} / {format_count(result.output_tokens)}",
        "cost": format_cost(result.cost_usd),
    }
