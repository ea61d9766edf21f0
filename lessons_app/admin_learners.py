"""Staff acting for a learner on their data: download it, or delete the account with it.

Django's user admin, with one more action. Its own "Delete selected users" deletes the
accounts and, by cascade, their progress, conversations, ratings and notice acceptance
(its confirmation page lists them).
"""

from __future__ import annotations

from django.contrib import admin
from django.contrib.auth import get_user_model
from django.contrib.auth.admin import UserAdmin
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.utils import timezone

from lessons_app import privacy

User = get_user_model()


class LearnerAdmin(UserAdmin):
    actions = [*(UserAdmin.actions or []), "download_data"]

    @admin.action(description="Download the selected users' data (JSON)")
    def download_data(self, request: HttpRequest, queryset: QuerySet) -> HttpResponse:
        users = list(queryset.order_by("pk"))
        text = privacy.learner_data_json(users, now=timezone.now())
        response = HttpResponse(text, content_type="application/json; charset=utf-8")
        name = users[0].get_username() if len(users) == 1 else f"{len(users)}-users"
        response["Content-Disposition"] = f'attachment; filename="tutor-data-{name}.json"'
        return response


admin.site.unregister(User)
admin.site.register(User, LearnerAdmin)
