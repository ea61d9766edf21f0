from django.core.management.base import BaseCommand

from llm_app import services


class Command(BaseCommand):
    help = (
        "Add (or update) the admin provider for a local llama-cpp-python server; "
        "`make local-model` runs it after starting the server."
    )

    def add_arguments(self, parser):
        parser.add_argument("--api-base", required=True, help="e.g. http://127.0.0.1:8765/v1")
        parser.add_argument("--alias", default="smollm2", help="The server's --model_alias.")
        parser.add_argument(
            "--context", type=int, default=2048, help="The server's --n_ctx, in tokens."
        )
        parser.add_argument(
            "--default", action="store_true", help="Also make it the tutor's default provider."
        )

    def handle(self, *args, api_base, alias, context, default, **options):
        config = services.register_local_model(
            api_base, alias=alias, context_window_tokens=context, make_it_default=default
        )
        self.stdout.write(
            self.style.SUCCESS(
                f"Registered {config.name!r} [{config.model}] at {config.api_base} "
                f"(context {context} tokens, tools off)"
                + (", now the default." if default else ".")
            )
        )
