"""Export lessons to YAML that `import_lessons` reads back unchanged."""

from pathlib import Path

from django.core.management.base import BaseCommand, CommandError, CommandParser

from lessons_app.yaml_io import export_lessons


class Command(BaseCommand):
    help = "Write lessons (all, or those with the given slugs) as YAML to stdout or a file."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("slugs", nargs="*", metavar="slug", help="Lessons to export.")
        parser.add_argument("--output", "-o", help="Write to this file instead of stdout.")

    def handle(self, *args, slugs: list[str], output: str | None, **options) -> None:
        try:
            text = export_lessons(slugs)
        except LookupError as exc:
            raise CommandError(str(exc)) from exc
        if output:
            Path(output).write_text(text, encoding="utf-8")
            self.stderr.write(f"Wrote {output}")
        else:
            self.stdout.write(text, ending="")
