"""Import lessons from a YAML file (format: docs/lesson-yaml.md)."""

from pathlib import Path

from django.core.management.base import BaseCommand, CommandError, CommandParser

from lessons_app.yaml_io import LessonFileError, import_lessons_file


class Command(BaseCommand):
    help = (
        "Create or update lessons from a YAML file, matched by slug. Each lesson's stages "
        "become the file's stages, in order. Nothing changes if any part of the file is invalid."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("file", help="Path to the lessons YAML file.")
        parser.add_argument(
            "--dry-run",
            action="store_true",
            help="Check the file and report what would change, without saving.",
        )

    def handle(self, *args, file: str, dry_run: bool, **options) -> None:
        path = Path(file)
        if not path.is_file():
            raise CommandError(f"No such file: {path}")
        try:
            result = import_lessons_file(path, dry_run=dry_run)
        except LessonFileError as exc:
            raise CommandError(str(exc)) from exc
        self.stdout.write(self.style.SUCCESS(result.summary()))
