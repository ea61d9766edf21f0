"""Install the demo lesson and, when no tutor is configured, the offline demo tutor."""

from pathlib import Path

from django.core.management.base import BaseCommand, CommandError, CommandParser

import lessons_app
from lessons_app.yaml_io import LessonFileError, import_lessons_file
from llm_app import services as llm_services

DEMO_FIXTURE = Path(lessons_app.__file__).resolve().parent / "fixtures" / "demo_lesson.yaml"


class Command(BaseCommand):
    help = (
        "Install the demo lesson if it is not there yet (an edited copy is left alone unless "
        "--reset is given), and make the offline demo tutor the default provider if there is none."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--reset",
            action="store_true",
            help="Overwrite the demo lesson with the original, discarding edits.",
        )

    def handle(self, *args, reset: bool, **options) -> None:
        try:
            result = import_lessons_file(DEMO_FIXTURE, skip_existing=not reset)
        except LessonFileError as exc:
            raise CommandError(str(exc)) from exc
        self.stdout.write(result.summary())

        ensure_demo_provider = getattr(llm_services, "ensure_demo_provider", None)
        if ensure_demo_provider is None:
            return
        config = ensure_demo_provider()
        if config.is_default:
            self.stdout.write(f"Default tutor: {config.name}.")
        else:
            self.stdout.write(f"{config.name} is available; another provider is the default.")
