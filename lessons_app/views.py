"""Learner pages. Placeholder: filled in by the learner-pages work."""

from django.http import HttpResponse


def catalogue(request):
    return HttpResponse("Lessons")


def signup(request):
    return HttpResponse("Sign up")


def lesson_detail(request, slug):
    return HttpResponse(slug)


def next_stage(request, slug):
    return HttpResponse(slug)


def previous_stage(request, slug):
    return HttpResponse(slug)
