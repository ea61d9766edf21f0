from django.core.management.base import BaseCommand, CommandError

from llm_app import services
from llm_app.models import ProviderConfig


class Command(BaseCommand):
    help = "Send a tiny prompt to one provider, or to every enabled one, and report the result."

    def add_arguments(self, parser):
        parser.add_argument("name", nargs="?", help="Provider name from the admin (default: all).")

    def handle(self, *args, name=None, **options):
        if name:
            configs = list(ProviderConfig.objects.filter(name=name))
            if not configs:
                known = ", ".join(ProviderConfig.objects.values_list("name", flat=True)) or "none"
                raise CommandError(f"No provider named {name!r}. Known providers: {known}.")
        else:
            configs = list(ProviderConfig.objects.filter(enabled=True))
            if not configs:
                raise CommandError("No enabled providers. Add one in the admin or run load_demo.")
        failures = 0
        for config in configs:
            result = services.check_provider(config)
            marker = " (default)" if config.is_default else ""
            line = f"{config.name}{marker} [{config.model}]: {result.summary()}"
            if result.ok:
                self.stdout.write(self.style.SUCCESS(line))
            else:
                failures += 1
                self.stdout.write(self.style.ERROR(line))
        if failures:
            raise CommandError(f"{failures} of {len(configs)} provider(s) failed.")
