"""Play learner personas against the tutor on a lesson's chat stages and score it.

Thin: the work is in :mod:`lessons_app.evaluation`; docs/evaluation.md explains
the personas file, the criteria and the output.
"""

from pathlib import Path

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import timezone

from lessons_app.evaluation import report as eval_report
from lessons_app.evaluation.personas import Persona, PersonaFileError, load_personas
from lessons_app.evaluation.record import eval_run_create
from lessons_app.evaluation.run import NothingToEvaluate, Players, run_evaluation
from lessons_app.models import Lesson
from llm_app.providers import ResolvedProvider, UnknownProviderError, resolve_provider

DEFAULT_OUT = "eval-results"


def _provider(name: str, what: str) -> ResolvedProvider:
    try:
        return resolve_provider(name)
    except UnknownProviderError as exc:
        raise CommandError(f"Unknown {what} provider: {exc}") from None


def _lesson(slug: str) -> Lesson:
    lesson = Lesson.objects.filter(slug=slug).first()
    if lesson is None:
        known = ", ".join(Lesson.objects.order_by("slug").values_list("slug", flat=True))
        raise CommandError(f"No lesson has the slug {slug!r}. Lessons: {known or 'none'}.")
    return lesson


def _learners(personas: list[Persona]) -> dict[str, ResolvedProvider]:
    return {
        persona.name: _provider(persona.learner_provider, f"learner ({persona.name})")
        for persona in personas
        if persona.learner_provider and not persona.scripted
    }


class Command(BaseCommand):
    help = (
        "Evaluate the tutor: play learner personas on a lesson's chat stages and score each "
        "conversation with a judge model and deterministic checks (docs/evaluation.md)."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--lesson", required=True, help="The lesson's slug.")
        parser.add_argument(
            "--provider", required=True, help="The tutor: an admin provider's name or a model."
        )
        parser.add_argument("--judge", help="The judge (and default learner); default: --provider.")
        parser.add_argument("--personas", help="A personas YAML file; default: the shipped four.")
        parser.add_argument(
            "--out",
            default=DEFAULT_OUT,
            help=f"Directory for CSV and JSON (default {DEFAULT_OUT}/).",
        )

    def handle(self, *args, **options) -> None:
        lesson = _lesson(options["lesson"])
        tutor = _provider(options["provider"], "tutor")
        judge = _provider(options["judge"], "judge") if options["judge"] else tutor
        try:
            personas = load_personas(options["personas"])
        except PersonaFileError as exc:
            raise CommandError(str(exc)) from None
        players = Players(tutor=tutor, judge=judge, learners=_learners(personas))
        try:
            result = run_evaluation(
                lesson, personas, players, started_at=timezone.now(), progress=self.stderr.write
            )
        except NothingToEvaluate as exc:
            raise CommandError(str(exc)) from None
        self.stdout.write(eval_report.table(result))
        eval_run_create(lesson=lesson, report=result, tutor=tutor)
        csv_path, json_path = eval_report.write_files(result, Path(options["out"]))
        self.stderr.write(f"Wrote {csv_path} and {json_path}")
