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

from lessons_app.account_views import data_download

User = get_user_model()


class LearnerAdmin(UserAdmin):
    actions = [*(UserAdmin.actions or []), "download_data"]

    @admin.action(description="Download the selected users' data (JSON)")
    def download_data(self, request: HttpRequest, queryset: QuerySet) -> HttpResponse:
        return data_download(list(queryset.order_by("pk")))


admin.site.unregister(User)
admin.site.register(User, LearnerAdmin)
