"""The learner's account page: their data to download or delete, and the AI-use notice.

Thin views over :mod:`lessons_app.privacy` and :mod:`lessons_app.ai_notice`.
"""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.contrib.auth import logout
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.debug import sensitive_post_parameters
from django.views.decorators.http import require_POST

from lessons_app import ai_notice, privacy
from lessons_app.models import AiNoticeAcceptance

DELETED_MESSAGE = "Your account and everything the tutor kept about you have been deleted."


class DeleteAccountForm(forms.Form):
    """Deleting cannot be undone, so the learner confirms it with their password."""

    password = forms.CharField(
        label="Your password, to confirm",
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "current-password"}),
    )

    def __init__(self, user, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.user = user

    def clean_password(self) -> str:
        password = self.cleaned_data["password"]
        if not self.user.check_password(password):
            raise forms.ValidationError("That is not your password; nothing was deleted.")
        return password


@login_required
def account(request: HttpRequest) -> HttpResponse:
    return _account_page(request, DeleteAccountForm(request.user))


def _account_page(request: HttpRequest, form: DeleteAccountForm, status: int = 200):
    context = {
        "delete_form": form,
        "retention_days": privacy.retention_days(),
        "ai_notice_enabled": ai_notice.notice_enabled(),
        "ai_notice_acceptance": AiNoticeAcceptance.objects.filter(user=request.user).first(),
    }
    return render(request, "lessons/account.html", context, status=status)


def data_download(users: list) -> HttpResponse:
    """The learners' data as a JSON file to save (one learner's, or a list of several)."""
    text = privacy.learner_data_json(users, now=timezone.now())
    response = HttpResponse(text, content_type="application/json; charset=utf-8")
    name = users[0].get_username() if len(users) == 1 else f"{len(users)}-users"
    response["Content-Disposition"] = f'attachment; filename="tutor-data-{name}.json"'
    return response


@login_required
def download_data(request: HttpRequest) -> HttpResponse:
    return data_download([request.user])


@sensitive_post_parameters("password")
@login_required
@require_POST
def delete_account(request: HttpRequest) -> HttpResponse:
    form = DeleteAccountForm(request.user, request.POST)
    if not form.is_valid():
        return _account_page(request, form, status=400)
    user = request.user
    logout(request)
    privacy.delete_learner(user)
    messages.success(request, DELETED_MESSAGE)
    return redirect("lessons:catalogue")


@login_required
@require_POST
def accept_ai_notice(request: HttpRequest) -> HttpResponse:
    ai_notice.accept_notice(request.user, now=timezone.now())
    next_url = request.POST.get("next", "")
    if url_has_allowed_host_and_scheme(
        next_url, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return redirect(next_url)
    return redirect("lessons:account")
