from django.apps import AppConfig


class LessonsAppConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "lessons_app"
    verbose_name = "Lessons"
