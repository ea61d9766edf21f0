from django.urls import path

from lessons_app.tutor.consumer import LessonChatConsumer

websocket_urlpatterns = [
    path("ws/lessons/<slug:slug>/chat/", LessonChatConsumer.as_asgi()),
]
