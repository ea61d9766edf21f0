from asgiref.sync import async_to_sync
from django.core.management.base import BaseCommand, CommandError

from llm_app.providers import UnknownProviderError, resolve_provider
from llm_app.shell import LLMError, collect_reply

SYSTEM_PROMPT = "You are a friendly, concise tutor chatting in a terminal."


class Command(BaseCommand):
    help = "Chat with a provider in the terminal. Empty line or Ctrl-D to quit."

    def add_arguments(self, parser):
        parser.add_argument(
            "--provider",
            help="Provider name from the admin or a LiteLLM model string "
            "(default: the admin default, then LLM_PROVIDER).",
        )

    def handle(self, *args, provider=None, **options):
        try:
            resolved = resolve_provider(provider)
        except UnknownProviderError as exc:
            raise CommandError(str(exc)) from None
        self.stdout.write(f"Chatting with {resolved.label} ({resolved.model}). Empty line to quit.")
        history: list[dict] = []
        while True:
            try:
                line = input("you> ").strip()
            except EOFError:
                break
            if not line:
                break
            history.append({"role": "user", "content": line})
            self.stdout.write("tutor> ", ending="")
            try:
                text, _ = async_to_sync(collect_reply)(
                    history,
                    SYSTEM_PROMPT,
                    provider=resolved,
                    on_text=lambda chunk: self.stdout.write(chunk, ending=""),
                )
            except LLMError as exc:
                self.stdout.write("")
                self.stderr.write(self.style.ERROR(f"[{exc.code}] {exc.message}"))
                history.pop()
                continue
            self.stdout.write("")
            history.append({"role": "assistant", "content": text})
