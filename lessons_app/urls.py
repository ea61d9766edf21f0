from django.urls import path

from lessons_app import account_views, views

app_name = "lessons"

urlpatterns = [
    path("", views.catalogue, name="catalogue"),
    path("signup/", views.signup, name="signup"),
    path("images/<int:pk>/<str:name>", views.uploaded_image, name="uploaded_image"),
    path("account/", account_views.account, name="account"),
    path("account/data.json", account_views.download_data, name="account_data"),
    path("account/delete/", account_views.delete_account, name="delete_account"),
    path("account/ai-notice/", account_views.accept_ai_notice, name="accept_ai_notice"),
    path("lessons/<slug:slug>/", views.lesson_detail, name="detail"),
    path("lessons/<slug:slug>/stages/<int:number>/", views.lesson_stage, name="stage"),
    path(
        "lessons/<slug:slug>/stages/<int:number>/captions.vtt",
        views.stage_captions,
        name="stage_captions",
    ),
    path("lessons/<slug:slug>/next/", views.next_stage, name="next"),
    path("lessons/<slug:slug>/back/", views.previous_stage, name="back"),
    path(
        "lessons/<slug:slug>/messages/<int:message_id>/rating/",
        views.rate_message,
        name="rate_message",
    ),
]
