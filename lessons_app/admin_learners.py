"""Staff and learners' data: acting for a learner, and seeing what learners of a lesson did.

Django's user admin gets one more action, download a learner's data. Its own "Delete
selected users" deletes the accounts and, by cascade, their progress, conversations,
ratings, records and notice acceptance (its confirmation page lists them).

A lesson's *Learners* page (:class:`LessonLearnersMixin`, on the lesson admin) shows
every learner of it: stages, objectives met, quiz answers, hints, last activity and a
link to a read-only transcript of their conversation (:class:`TranscriptMixin`, on
the conversation admin), filtered by experiment arm. Both need permission to view
conversations, since they show what learners wrote.
"""

from __future__ import annotations

from django.contrib import admin
from django.contrib.admin.utils import unquote
from django.contrib.auth import get_user_model
from django.contrib.auth.admin import UserAdmin
from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseBadRequest
from django.template.response import TemplateResponse
from django.urls import URLPattern, path, reverse
from django.utils.html import format_html

from lessons_app.account_views import data_download
from lessons_app.learning_overview import LessonOverview, lesson_overview
from lessons_app.models import Conversation, Lesson, Message

User = get_user_model()

LEARNERS_TEMPLATE = "admin/learning/lesson_learners.html"
TRANSCRIPT_TEMPLATE = "admin/learning/transcript.html"
LEARNERS_URL_NAME = "lessons_app_lesson_learners"
TRANSCRIPT_URL_NAME = "lessons_app_conversation_transcript"
ARM_PARAMETER = "arm"


class LearnerAdmin(UserAdmin):
    actions = [*(UserAdmin.actions or []), "download_data"]

    @admin.action(description="Download the selected users' data (JSON)")
    def download_data(self, request: HttpRequest, queryset: QuerySet) -> HttpResponse:
        return data_download(list(queryset.order_by("pk")))


def _may_read_conversations(request: HttpRequest, site: admin.AdminSite) -> bool:
    model_admin = site.get_model_admin(Conversation) if site.is_registered(Conversation) else None
    return model_admin is not None and model_admin.has_view_permission(request)


def _arm_filter(request: HttpRequest) -> int | None:
    """The ``?arm=`` filter: an arm id, or ``None`` for all; ValueError if not a number."""
    value = request.GET.get(ARM_PARAMETER, "").strip()
    return int(value) if value else None


def _transcript_url(site: admin.AdminSite, conversation_id: int | None) -> str:
    if conversation_id is None:
        return ""
    return reverse(f"{site.name}:{TRANSCRIPT_URL_NAME}", args=[conversation_id])


def _context(overview: LessonOverview, site: admin.AdminSite, arm_id: int | None) -> dict:
    return {
        "overview": overview,
        "rows": [
            {
                "row": row,
                "transcript_url": _transcript_url(site, row.conversation_id),
                # (met?, the tutor's evidence) per objective, in the header's order.
                "objectives": [
                    (o.pk in row.objectives_met, row.objectives_met.get(o.pk, ""))
                    for o in overview.objectives
                ],
            }
            for row in overview.rows
        ],
        "arm_id": arm_id,
        "arm_parameter": ARM_PARAMETER,
    }


class LessonLearnersMixin:
    """The lesson admin's *Learners* page, and a link to it in the lesson list."""

    def get_urls(self) -> list[URLPattern]:
        view = self.admin_site.admin_view(self.learners_view)
        page = path("<path:object_id>/learners/", view, name=LEARNERS_URL_NAME)
        return [page, *super().get_urls()]

    @admin.display(description="Learners")
    def learners_link(self, lesson: Lesson) -> str:
        url = reverse(f"{self.admin_site.name}:{LEARNERS_URL_NAME}", args=[lesson.pk])
        return format_html('<a href="{}">Learners</a>', url)

    def learners_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        lesson = self.get_object(request, unquote(object_id))
        if lesson is None:
            raise Http404("No such lesson.")
        site = self.admin_site
        if not self.has_view_permission(request, lesson) or not _may_read_conversations(
            request, site
        ):
            raise PermissionDenied
        try:
            arm_id = _arm_filter(request)
        except ValueError:
            return HttpResponseBadRequest("The arm filter must be an arm's number.")
        context = {
            **site.each_context(request),
            "opts": self.model._meta,
            "original": lesson,
            "title": f"Learners: {lesson.title}",
            **_context(lesson_overview(lesson, arm_id=arm_id), site, arm_id),
        }
        return TemplateResponse(request, LEARNERS_TEMPLATE, context)


class TranscriptMixin:
    """A conversation's read-only transcript page, linked from the lesson's learners."""

    def get_urls(self) -> list[URLPattern]:
        view = self.admin_site.admin_view(self.transcript_view)
        page = path("<path:object_id>/transcript/", view, name=TRANSCRIPT_URL_NAME)
        return [page, *super().get_urls()]

    def transcript_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        conversation = self.get_object(request, unquote(object_id))
        if conversation is None:
            raise Http404("No such conversation.")
        if not self.has_view_permission(request, conversation):
            raise PermissionDenied
        messages = conversation.messages.select_related("stage", "moderation_flag").order_by(
            "created_at", "id"
        )
        site = self.admin_site
        context = {
            **site.each_context(request),
            "opts": self.model._meta,
            "original": conversation,
            "title": f"Transcript: {conversation.user} on {conversation.lesson}",
            "messages_shown": list(messages),
            "marker_role": Message.Role.SYSTEM,
            "learners_url": reverse(
                f"{site.name}:{LEARNERS_URL_NAME}", args=[conversation.lesson_id]
            ),
        }
        return TemplateResponse(request, TRANSCRIPT_TEMPLATE, context)


admin.site.unregister(User)
admin.site.register(User, LearnerAdmin)
