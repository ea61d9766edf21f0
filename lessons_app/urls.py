from django.urls import path

from lessons_app import views

app_name = "lessons"

urlpatterns = [
    path("", views.catalogue, name="catalogue"),
    path("signup/", views.signup, name="signup"),
    path("lessons/<slug:slug>/", views.lesson_detail, name="detail"),
    path("lessons/<slug:slug>/next/", views.next_stage, name="next"),
    path("lessons/<slug:slug>/back/", views.previous_stage, name="back"),
    path(
        "lessons/<slug:slug>/messages/<int:message_id>/rating/",
        views.rate_message,
        name="rate_message",
    ),
]
