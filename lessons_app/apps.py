from django.apps import AppConfig


class LessonsAppConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "lessons_app"
    verbose_name = "Lessons"

    def ready(self) -> None:
        from lessons_app import demo_tutor
        from llm_app import demo_provider

        # The offline demo tutor talks about the lesson it is sent.
        demo_provider.set_reply_composer(demo_tutor.compose_reply)
