"""The staff usage page in the admin, and the spending guard's warnings there.

The project's admin site (:class:`tutor_project.admin.TutorAdminSite`) puts
the page's URL in front of its own, adds a "Usage" row to the Lessons app on
the admin index and in the sidebar, and has the admin index and the provider
list show a warning while a provider is over its daily budget or learners are
at the daily message limit. The numbers come from :mod:`lessons_app.usage`.
"""

from __future__ import annotations

import logging
from datetime import date, timedelta
from typing import Any

from django import forms
from django.contrib import messages
from django.contrib.admin import AdminSite
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse
from django.urls import NoReverseMatch, URLPattern, path, reverse
from django.utils.html import format_html

from lessons_app import usage
from lessons_app.models import Message
from llm_app.display import format_cost, format_count, format_ms, format_percent

logger = logging.getLogger(__name__)

URL_NAME = "tutor_usage"
TEMPLATE = "admin/usage/usage.html"
# Whoever may read learners' messages in the admin may read what they add up to.
PERMISSION = "lessons_app.view_message"
# Admin pages (URL names) that show the spending warnings as messages.
WARNING_PAGES = frozenset({"index", "llm_app_providerconfig_changelist"})


class UsageRangeForm(forms.Form):
    start = forms.DateField(widget=forms.DateInput(attrs={"type": "date"}))
    end = forms.DateField(widget=forms.DateInput(attrs={"type": "date"}))

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        start, end = data.get("start"), data.get("end")
        if start and end:
            if start > end:
                raise forms.ValidationError("The start date must not be after the end date.")
            if (end - start).days + 1 > usage.MAX_DAYS:
                raise forms.ValidationError(f"Choose at most {usage.MAX_DAYS} days.")
        return data


def chosen_range(request: HttpRequest, today: date) -> tuple[UsageRangeForm, date, date]:
    """The range in the query string, or the default one when absent or invalid."""
    default_start, default_end = usage.default_range(today)
    if "start" not in request.GET and "end" not in request.GET:
        form = UsageRangeForm(initial={"start": default_start, "end": default_end})
        return form, default_start, default_end
    form = UsageRangeForm(request.GET)
    if form.is_valid():
        return form, form.cleaned_data["start"], form.cleaned_data["end"]
    return form, default_start, default_end


# --- Display --------------------------------------------------------------------


def display_row(row: usage.UsageRow) -> dict[str, object]:
    """Display strings for one table row, formatted here rather than in the template."""
    return {
        "label": row.label,
        "turns": row.turns,
        "refused": row.refused,
        "errors": f"{row.errors} ({format_percent(row.error_rate)})" if row.turns else "—",
        "tokens_in": format_count(row.input_tokens),
        "tokens_out": format_count(row.output_tokens),
        "cost": format_cost(row.cost_usd),
        "unpriced": row.turns - row.priced_turns,
        "ttft_p50": format_ms(row.ttft_p50_ms),
        "ttft_p95": format_ms(row.ttft_p95_ms),
        "empty": not row.turns and not row.refused,
    }


# --- The page -------------------------------------------------------------------


def usage_view(request: HttpRequest, site: AdminSite) -> HttpResponse:
    if not request.user.has_perm(PERMISSION):
        raise PermissionDenied
    today = usage.utc_today()
    form, start, end = chosen_range(request, today)
    report = usage.usage_report(start, end)
    tables = [
        ("by-day", "Per day (UTC)", "Day", report.by_day),
        ("by-provider", "Per provider", "Provider", report.by_provider),
        ("by-lesson", "Per lesson", "Lesson", report.by_lesson),
    ]
    context = {
        **site.each_context(request),
        "title": "Tutor usage",
        "subtitle": None,
        "form": form,
        "start": start,
        "end": end,
        "total": display_row(report.total),
        "tables": [
            {"id": table_id, "title": title, "key": key, "rows": [display_row(r) for r in rows]}
            for table_id, title, key, rows in tables
        ],
        "warnings": usage.staff_warnings(),
        "previous_range": _shifted(start, end, -1),
        "next_range": _shifted(start, end, 1) if end < today else None,
        "app_label": Message._meta.app_label,
        "app_verbose_name": Message._meta.app_config.verbose_name,
    }
    return TemplateResponse(request, TEMPLATE, context)


def _shifted(start: date, end: date, direction: int) -> dict[str, str]:
    span = timedelta(days=(end - start).days + 1) * direction
    return {"start": (start + span).isoformat(), "end": (end + span).isoformat()}


# --- On the admin site (tutor_project.admin.TutorAdminSite) ----------------------


def usage_urls(site: AdminSite) -> list[URLPattern]:
    """The usage page's URL, for the site to put in front of its own."""

    def view(request: HttpRequest) -> HttpResponse:
        return usage_view(request, site)

    return [path("usage/", site.admin_view(view), name=URL_NAME)]


def _usage_url(site: AdminSite) -> str | None:
    try:
        return reverse(f"{site.name}:{URL_NAME}", current_app=site.name)
    except NoReverseMatch:
        return None


def add_usage_entry(
    site: AdminSite, request: HttpRequest, app_list: list[dict[str, Any]], app_label: str | None
) -> None:
    """Show "Usage" among the Lessons app's models on the index, app page and sidebar.

    The page has no model of its own (a proxy or unmanaged model would need a
    migration), so its row is added to the app list the site built.
    """
    label = Message._meta.app_label
    url = _usage_url(site)
    if url is None or app_label not in (None, label) or not request.user.has_perm(PERMISSION):
        return
    app = next((app for app in app_list if app["app_label"] == label), None)
    if app is None:
        # Staff who may see messages but none of the app's other models.
        app = {
            "name": Message._meta.app_config.verbose_name,
            "app_label": label,
            "app_url": reverse(f"{site.name}:app_list", kwargs={"app_label": label}),
            "has_module_perms": True,
            "models": [],
        }
        app_list.append(app)
        app_list.sort(key=lambda entry: entry["name"].lower())
    app["models"].append(
        {
            "name": "Usage",
            "object_name": "Usage",
            "perms": {"add": False, "change": False, "delete": False, "view": True},
            "admin_url": url,
            "add_url": None,
            "view_only": True,
        }
    )
    app["models"].sort(key=lambda model: model["name"])


def warn_staff(site: AdminSite, request: HttpRequest) -> None:
    """Add the spending warnings as admin messages on the pages staff look at first."""
    match = getattr(request, "resolver_match", None)
    if not (
        request.method == "GET"
        and match is not None
        and match.url_name in WARNING_PAGES
        and request.user.is_active
        and request.user.is_staff
    ):
        return
    try:
        warnings = usage.staff_warnings()
    except Exception:
        logger.exception("Could not check the spending guard for admin warnings")
        warnings = []
    url = _usage_url(site)
    for warning in warnings:
        text = format_html('{} <a href="{}">See usage</a>.', warning, url) if url else warning
        messages.warning(request, text, fail_silently=True)
