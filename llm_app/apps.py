from django.apps import AppConfig


class LlmAppConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "llm_app"
    verbose_name = "LLM providers"

    def ready(self) -> None:
        import litellm

        from llm_app import demo_provider, tracing

        # LiteLLM prints its provider list and a help banner to stdout on every
        # failed call; the seam logs one safe line per failure instead.
        litellm.suppress_debug_info = True
        # tutor-demo/... models, served offline by the demo tutor.
        demo_provider.register_demo_provider()
        # Registers LiteLLM's Langfuse callback only when LANGFUSE_* is configured.
        tracing.configure_tracing()
