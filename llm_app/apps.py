from django.apps import AppConfig


class LlmAppConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "llm_app"
    verbose_name = "LLM providers"

    def ready(self) -> None:
        import litellm
        from django.db.models.signals import post_delete, post_save

        from llm_app import demo_provider, revisions, tracing
        from llm_app.models import Experiment, ExperimentArm, ProviderConfig, ProviderFallback

        # LiteLLM prints its provider list and a help banner to stdout on every
        # failed call; the seam logs one safe line per failure instead.
        litellm.suppress_debug_info = True
        # tutor-demo/... models, served offline by the demo tutor.
        demo_provider.register_demo_provider()
        # Registers LiteLLM's Langfuse callback only when LANGFUSE_* is configured.
        tracing.configure_tracing()
        # Every change that can alter who answers gives the providers a new revision,
        # which is what each process checks before it reuses what it resolved.
        for model in (ProviderConfig, ProviderFallback, Experiment, ExperimentArm):
            for signal in (post_save, post_delete):
                signal.connect(revisions.bump, sender=model, dispatch_uid=f"revision:{model}")
