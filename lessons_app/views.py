"""Learner pages: the catalogue, sign-up and working through a lesson.

The views only translate HTTP to calls into :mod:`lessons_app.services` and
:mod:`lessons_app.stage_kinds`; moving between stages is POST-only and sends no
stage number, so the server alone decides where the learner goes.
"""

from __future__ import annotations

from django.contrib.auth import login
from django.contrib.auth.decorators import login_required
from django.contrib.auth.forms import UserCreationForm
from django.core.exceptions import ValidationError
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_http_methods, require_POST

from lessons_app import ai_notice, ratings, services, untrusted_json
from lessons_app.content import TranscriptError, transcript_as_webvtt
from lessons_app.models import Lesson, LessonProgress, Message, Stage, UploadedImage
from lessons_app.stage_kinds import render_previous_stage_body, render_stage_body

# The tutor chat's WebSocket route; the consumer's routing must match it.
CHAT_SOCKET_PATH = "/ws/lessons/{slug}/chat/"
# An uploaded image's address never shows another image (uploads are never changed).
IMAGE_CACHE_SECONDS = 365 * 24 * 3600
# The hidden field in the Next/Back forms naming the stage they were shown on.
FROM_STAGE_FIELD = "from_stage"
# A rating is a value and a comment of at most ratings.MAX_COMMENT_CHARS characters.
MAX_RATING_BODY_BYTES = 16 * 1024
WEBVTT_CONTENT_TYPE = "text/vtt; charset=utf-8"


def chat_socket_path(lesson: Lesson) -> str:
    """Where the page's chat panel connects for ``lesson``."""
    return CHAT_SOCKET_PATH.format(slug=lesson.slug)


def uploaded_image(request: HttpRequest, pk: int, name: str) -> HttpResponse:
    """An image staff uploaded for articles (lessons_app.uploaded_images); never changes."""
    image = get_object_or_404(UploadedImage, pk=pk, name=name)
    response = HttpResponse(bytes(image.data), content_type=image.content_type)
    response["Cache-Control"] = f"public, max-age={IMAGE_CACHE_SECONDS}, immutable"
    return response


def catalogue(request: HttpRequest) -> HttpResponse:
    entries = services.catalogue_entries(request.user)
    return render(request, "lessons/catalogue.html", {"entries": entries})


def signup(request: HttpRequest) -> HttpResponse:
    if request.user.is_authenticated:
        return redirect("lessons:catalogue")
    form = UserCreationForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        user = form.save()
        # Two backends are configured (the log-in throttle's first): say which logs them in.
        login(request, user, backend=services.MODEL_BACKEND)
        next_url = request.POST.get("next", "")
        if url_has_allowed_host_and_scheme(
            next_url, allowed_hosts={request.get_host()}, require_https=request.is_secure()
        ):
            return redirect(next_url)
        return redirect("lessons:catalogue")
    return render(
        request, "registration/signup.html", {"form": form, "next": request.GET.get("next", "")}
    )


def stage_url(lesson: Lesson, number: int) -> str:
    """The address of stage ``number`` (1-based) of ``lesson``."""
    return reverse("lessons:stage", kwargs={"slug": lesson.slug, "number": number})


@login_required
def lesson_detail(request: HttpRequest, slug: str) -> HttpResponse:
    """The lesson's page: the stage the learner is on (lessons/layout.js shows its own URL)."""
    lesson = services.get_visible_lesson_or_404(request.user, slug)
    return _lesson_page(request, lesson, services.get_or_start_progress(request.user, lesson))


@login_required
def lesson_stage(request: HttpRequest, slug: str, number: int) -> HttpResponse:
    """Stage ``number`` of the lesson, when it is the one the learner is on.

    The server alone decides where a learner is (Next and Back move them), so the address
    of another stage leads to the current one: no address jumps ahead, none moves the
    learner. A number the lesson has no stage for is a 404.
    """
    lesson = services.get_visible_lesson_or_404(request.user, slug)
    progress = services.get_or_start_progress(request.user, lesson)
    stages = services.ordered_stages(lesson)
    if not 1 <= number <= len(stages):
        raise Http404("The lesson has no such stage.")
    current = services.current_stage_index(progress, stages) + 1
    if number != current:
        return redirect(stage_url(lesson, current))
    return _lesson_page(request, lesson, progress, stages)


@login_required
def stage_captions(request: HttpRequest, slug: str, number: int) -> HttpResponse:
    """The captions of the learner's current video stage: its transcript as WebVTT.

    The <track> of a self-hosted video (Stage.video_url) loads them; like the stage's page,
    only the stage the learner is on has them.
    """
    lesson = services.get_visible_lesson_or_404(request.user, slug)
    progress = services.get_or_start_progress(request.user, lesson)
    stages = services.ordered_stages(lesson)
    if not 1 <= number <= len(stages) or services.current_stage_index(progress, stages) + 1 != (
        number
    ):
        raise Http404("The lesson has no such stage here.")
    stage = stages[number - 1]
    try:
        captions = transcript_as_webvtt(stage.transcript) if stage.transcript.strip() else ""
    except TranscriptError:
        captions = ""
    if stage.kind != Stage.Kind.VIDEO or not captions:
        raise Http404("The stage has no captions.")
    return HttpResponse(captions, content_type=WEBVTT_CONTENT_TYPE)


def _lesson_page(
    request: HttpRequest,
    lesson: Lesson,
    progress: LessonProgress,
    stages: list[Stage] | None = None,
) -> HttpResponse:
    stages = services.ordered_stages(lesson) if stages is None else stages
    context = {
        "lesson": lesson,
        "progress": progress,
        "stages": stages,
        "chat_socket_path": chat_socket_path(lesson),
        "from_stage_field": FROM_STAGE_FIELD,
        "roles": Message.Role,
        "history": services.lesson_history(request.user, lesson),
        "tutor_is_demo": services.tutor_is_demo(request.user),
        # The AI-use notice, in place of the chat until accepted (lessons_app.ai_notice).
        "ai_notice": ai_notice.AI_NOTICE if ai_notice.notice_required(request.user) else "",
    }
    if stages:
        index = services.current_stage_index(progress, stages)
        stage = stages[index]
        context.update(
            stage=stage,
            stage_number=index + 1,
            stage_url=stage_url(lesson, index + 1),
            stage_count=len(stages),
            is_first=index == 0,
            is_last=index == len(stages) - 1,
            body=render_stage_body(stage),
            previous_body=render_previous_stage_body(stage),
        )
    return render(request, "lessons/lesson.html", context)


def _current_stage_redirect(lesson: Lesson, progress: LessonProgress) -> HttpResponse:
    stages = services.ordered_stages(lesson)
    if not stages:
        return redirect(lesson.get_absolute_url())
    return redirect(stage_url(lesson, services.current_stage_index(progress, stages) + 1))


def _from_stage_id(request: HttpRequest) -> int | None:
    """The stage the form was shown on: only a guard against repeats, never a destination."""
    try:
        return int(request.POST[FROM_STAGE_FIELD])
    except (KeyError, ValueError):
        return None


@login_required
@require_POST
def next_stage(request: HttpRequest, slug: str) -> HttpResponse:
    lesson = services.get_visible_lesson_or_404(request.user, slug)
    progress = services.advance(request.user, lesson, from_stage_id=_from_stage_id(request))
    return _current_stage_redirect(lesson, progress)


@login_required
@require_POST
def previous_stage(request: HttpRequest, slug: str) -> HttpResponse:
    lesson = services.get_visible_lesson_or_404(request.user, slug)
    progress = services.go_back(request.user, lesson, from_stage_id=_from_stage_id(request))
    return _current_stage_redirect(lesson, progress)


@login_required
@require_http_methods(["POST", "DELETE"])
def rate_message(request: HttpRequest, slug: str, message_id: int) -> JsonResponse:
    """Thumbs up or down (with an optional comment) on one of the learner's tutor replies.

    POST ``{"value": 1 | -1, "comment": "..."}`` sets the rating; DELETE removes it.
    """
    lesson = services.get_visible_lesson_or_404(request.user, slug)
    if not Message.objects.filter(pk=message_id, conversation__lesson=lesson).exists():
        raise Http404("No such message.")
    try:
        if request.method == "DELETE":
            ratings.clear_rating(request.user, message_id)
            return JsonResponse({"value": None, "comment": ""})
        try:
            data = untrusted_json.loads(request.body or b"{}", max_bytes=MAX_RATING_BODY_BYTES)
        except untrusted_json.UntrustedJSONError as exc:
            return JsonResponse({"error": exc.message}, status=413 if exc.too_large else 400)
        if not isinstance(data, dict):
            return JsonResponse(
                {"error": 'Send JSON such as {"value": 1, "comment": ""}.'}, status=400
            )
        rating = ratings.rate_message(
            request.user, message_id, data.get("value"), data.get("comment", "")
        )
    except (Message.DoesNotExist, ratings.RatingNotAllowed):
        raise Http404("No such message.") from None
    except ValidationError as exc:
        return JsonResponse({"error": " ".join(exc.messages)}, status=400)
    return JsonResponse({"value": rating.value, "comment": rating.comment})
