"""An experiment's per-arm results page and CSV export in the admin.

The experiment's own admin (arms, switching) is llm_app's; these pages count
the tutor's replies, which are this app's, so they are served from here. The
project's admin site (:class:`tutor_project.admin.TutorAdminSite`) adds them
under the experiment's admin URLs and the names llm_app's admin links to
(:mod:`llm_app.admin_urls`); the experiment's own admin decides who may see
which experiment.
"""

from __future__ import annotations

from django.contrib.admin import AdminSite, ModelAdmin
from django.contrib.admin.utils import unquote
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse
from django.template.response import TemplateResponse
from django.urls import URLPattern, path, reverse
from django.utils.text import slugify

from lessons_app import experiment_results
from llm_app.admin_urls import RESULTS_CSV_URL_NAME, RESULTS_URL_NAME
from llm_app.display import format_cost, format_count, format_ms
from llm_app.models import Experiment

TEMPLATE = "admin/experiment_results/results.html"


def results_urls(site: AdminSite) -> list[URLPattern]:
    """The results page and CSV, beside the experiment's change page; none if it is not there."""
    if not site.is_registered(Experiment):
        return []
    opts = Experiment._meta
    prefix = f"{opts.app_label}/{opts.model_name}/<path:object_id>"

    def page(request: HttpRequest, object_id: str) -> HttpResponse:
        return results_view(request, site, object_id)

    def download(request: HttpRequest, object_id: str) -> HttpResponse:
        return results_csv_view(request, site, object_id)

    return [
        path(f"{prefix}/results/", site.admin_view(page), name=RESULTS_URL_NAME),
        path(f"{prefix}/results.csv", site.admin_view(download), name=RESULTS_CSV_URL_NAME),
    ]


def _viewable_experiment(
    request: HttpRequest, model_admin: ModelAdmin, object_id: str
) -> Experiment:
    experiment = model_admin.get_object(request, unquote(object_id))
    if experiment is None:
        raise Http404("No such experiment.")
    if not model_admin.has_view_permission(request, experiment):
        raise PermissionDenied
    return experiment


def _url(site: AdminSite, name: str, experiment: Experiment) -> str:
    return reverse(f"{site.name}:{name}", args=[experiment.pk], current_app=site.name)


def results_view(request: HttpRequest, site: AdminSite, object_id: str) -> HttpResponse:
    model_admin = site.get_model_admin(Experiment)
    experiment = _viewable_experiment(request, model_admin, object_id)
    results = experiment_results.arm_results_with_learning(experiment)
    opts = Experiment._meta
    context = {
        **site.each_context(request),
        "opts": opts,
        "original": experiment,
        "title": f"Results: {experiment.name}",
        "subtitle": None,
        "rows": [display_row(r) for r in results],
        "charts": experiment_results.charts(results),
        "csv_url": _url(site, RESULTS_CSV_URL_NAME, experiment),
        "change_url": _url(site, f"{opts.app_label}_{opts.model_name}_change", experiment),
        "has_view_permission": True,
    }
    return TemplateResponse(request, TEMPLATE, context)


def results_csv_view(request: HttpRequest, site: AdminSite, object_id: str) -> HttpResponse:
    model_admin = site.get_model_admin(Experiment)
    experiment = _viewable_experiment(request, model_admin, object_id)
    body = experiment_results.results_csv(experiment_results.arm_results_with_learning(experiment))
    filename = f"experiment-{slugify(experiment.name) or experiment.pk}-results.csv"
    response = HttpResponse(body, content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


def display_row(result: experiment_results.ArmResult) -> dict[str, object]:
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
        "objectives": experiment_results.format_per_learner(
            result.per_learner(result.signals.objectives_met)
        ),
        "quiz": experiment_results.format_quiz(result.signals),
        "hints": experiment_results.format_per_learner(result.per_learner(result.signals.hints)),
        "eval_score": experiment_results.format_eval(result.signals),
    }
