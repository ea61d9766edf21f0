"""The project's admin site: Django's, plus the staff pages no single model owns.

The usage page with its spending warnings, and an experiment's results, read
both apps' data, so they are added here, where the project puts the apps
together, rather than by either app changing the site.
``tutor_project.apps.TutorAdminConfig`` makes this the default site. This
module is imported when ``admin.site`` is first used, so neither it nor what
it imports may register models (that would use the site it is defining).
"""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.http import HttpRequest
from django.urls import URLPattern, URLResolver

from lessons_app import admin_experiment_results, admin_usage


class TutorAdminSite(admin.AdminSite):
    def get_urls(self) -> list[URLPattern | URLResolver]:
        # In front of the site's own, which end in a catch-all for app pages.
        return [
            *admin_usage.usage_urls(self),
            *admin_experiment_results.results_urls(self),
            *super().get_urls(),
        ]

    def get_app_list(
        self, request: HttpRequest, app_label: str | None = None
    ) -> list[dict[str, Any]]:
        app_list = super().get_app_list(request, app_label)
        admin_usage.add_usage_entry(self, request, app_list, app_label)
        return app_list

    def each_context(self, request: HttpRequest) -> dict[str, Any]:
        context = super().each_context(request)
        admin_usage.warn_staff(self, request)
        return context
