"""Lessons as YAML files: import (validated, all or nothing) and export.

Authors keep lessons in version control and move them between installs, so an
import either applies a whole file or nothing, and every problem names the line
to fix. Stages go through the admin's own form, so both routes accept the same
lessons. The format is described in docs/lesson-yaml.md.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from django.core.exceptions import NON_FIELD_ERRORS
from django.db import IntegrityError, transaction
from django.forms import ModelForm, modelform_factory

from lessons_app.forms import LESSON_FIELD_NAMES, LESSON_FIELDS, LessonForm, StageAdminForm
from lessons_app.models import Lesson, Stage
from lessons_app.stage_kinds import (
    COMMON_FIELDS,
    KINDS,
    STAGE_CONTENT_FIELDS,
    AuthoredField,
    StageKind,
    ValueType,
)
from lessons_app.yaml_teaching import (
    CHAT_TEACHING_KEYS,
    NEEDS_ANSWER_OR_RUBRIC,
    OBJECTIVE_MAX_LENGTH,
    OBJECTIVES_KEY,
    QUESTION_FIELDS,
    QUESTION_HINTS_KEY,
    QUESTION_KEYS,
    QUESTION_PROMPT_KEY,
    QUESTIONS_KEY,
    QuestionPlan,
    TeachingPlan,
    lesson_objectives_data,
    stage_teaching_data,
    sync_objectives,
    sync_stage,
)

TOP_LEVEL_KEY = "lessons"
LESSON_STAGES_KEY = "stages"

StageImportForm: type[ModelForm] = modelform_factory(
    Stage, form=StageAdminForm, fields=list(STAGE_CONTENT_FIELDS)
)

KeyPath = tuple[str | int, ...]


@dataclass(frozen=True)
class Problem:
    line: int | None
    message: str

    def __str__(self) -> str:
        return f"line {self.line}: {self.message}" if self.line else self.message


class LessonFileError(Exception):
    """A lessons file that cannot be imported; nothing was changed."""

    def __init__(self, problems: Sequence[Problem], source: str = "<string>"):
        self.problems = sorted(problems, key=lambda p: p.line or 0)
        self.source = source
        super().__init__(str(self))

    def __str__(self) -> str:
        count = len(self.problems)
        heading = f"{self.source}: {count} problem{'s' if count != 1 else ''}, nothing imported"
        return "\n".join([heading, *(f"  {self.source}, {p}" for p in self.problems)])


@dataclass
class ImportResult:
    created: list[str] = dataclasses.field(default_factory=list)
    updated: list[str] = dataclasses.field(default_factory=list)
    unchanged: list[str] = dataclasses.field(default_factory=list)
    skipped: list[str] = dataclasses.field(default_factory=list)
    stages_created: int = 0
    stages_updated: int = 0
    stages_deleted: int = 0
    dry_run: bool = False

    def summary(self) -> str:
        parts = []
        for label, slugs in (
            ("created", self.created),
            ("updated", self.updated),
            ("unchanged", self.unchanged),
            ("already present, left as they are", self.skipped),
        ):
            if slugs:
                parts.append(f"{len(slugs)} {label} ({', '.join(slugs)})")
        lessons = "; ".join(parts) or "no lessons in the file"
        stages = (
            f"stages: {self.stages_created} created, {self.stages_updated} updated, "
            f"{self.stages_deleted} deleted"
        )
        prefix = "Dry run, nothing saved. Would have: " if self.dry_run else "Lessons: "
        return f"{prefix}{lessons}; {stages}."


# --- Reading YAML with line numbers -----------------------------------------


class _Located:
    """Plain Python data built from a YAML node tree, with each path's line number."""

    def __init__(self) -> None:
        self.lines: dict[KeyPath, int] = {}
        self.problems: list[Problem] = []

    def line(self, path: KeyPath) -> int | None:
        while path not in self.lines and path:
            path = path[:-1]
        return self.lines.get(path)

    def problem(self, path: KeyPath, message: str) -> None:
        self.problems.append(Problem(self.line(path), message))


def _describe(path: KeyPath) -> str:
    text = ""
    for part in path:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else part)
    return text


def _read(text: str, located: _Located) -> Any:
    loader = yaml.SafeLoader(text)
    try:
        node = loader.get_single_node()
        if node is None:
            return None
        return _build(node, (), loader, located)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        what = exc.problem or exc.context or "unreadable YAML"
        if exc.context and exc.problem:
            where = f" on line {exc.context_mark.line + 1}" if exc.context_mark else ""
            what = f"{exc.problem} ({exc.context}{where})"
        located.problems.append(
            Problem(mark.line + 1 if mark else None, f"YAML syntax error: {what}")
        )
        return None
    except yaml.YAMLError as exc:
        located.problems.append(Problem(None, f"YAML error: {exc}"))
        return None
    finally:
        loader.dispose()


def _build(node: yaml.Node, path: KeyPath, loader: yaml.SafeLoader, located: _Located) -> Any:
    located.lines.setdefault(path, node.start_mark.line + 1)
    if isinstance(node, yaml.MappingNode):
        result: dict[Any, Any] = {}
        for key_node, value_node in node.value:
            key_line = key_node.start_mark.line + 1
            if not isinstance(key_node, yaml.ScalarNode):
                located.problems.append(Problem(key_line, "Keys must be plain words."))
                continue
            key = loader.construct_object(key_node)
            if not isinstance(key, str):
                key = str(key)
            if key in result:
                located.problems.append(
                    Problem(key_line, f"{_describe((*path, key))} is given twice.")
                )
                continue
            located.lines[(*path, key)] = key_line
            result[key] = _build(value_node, (*path, key), loader, located)
        return result
    if isinstance(node, yaml.SequenceNode):
        return [
            _build(item, (*path, index), loader, located) for index, item in enumerate(node.value)
        ]
    return loader.construct_object(node, deep=True)


# --- Checking the structure -------------------------------------------------


def _type_name(value: Any) -> str:
    if value is None:
        return "nothing (null)"
    if isinstance(value, bool):
        return f"the boolean {str(value).lower()}"
    if isinstance(value, int | float):
        return f"the number {value}"
    if isinstance(value, str):
        return f"the text {value!r}"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "a mapping"
    return f"a {type(value).__name__} ({value})"


def _check_value(value: Any, expected: ValueType, path: KeyPath, located: _Located) -> Any:
    """Return ``value`` in the form the model form expects, or record a problem."""
    if expected == ValueType.TEXT:
        if value is None:
            return ""
        if isinstance(value, str):
            return value
        hint = " (put it in quotes)" if isinstance(value, bool | int | float) else ""
        located.problem(path, f"{_describe(path)} must be text, not {_type_name(value)}{hint}.")
    elif expected in (ValueType.INTEGER, ValueType.OPTIONAL_INTEGER):
        if value is None and expected == ValueType.OPTIONAL_INTEGER:
            return None
        if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
            return value
        located.problem(
            path,
            f"{_describe(path)} must be a whole number of 0 or more"
            f"{' or null' if expected == ValueType.OPTIONAL_INTEGER else ''}, "
            f"not {_type_name(value)}.",
        )
    elif expected == ValueType.BOOLEAN:
        if isinstance(value, bool):
            return value
        located.problem(path, f"{_describe(path)} must be true or false, not {_type_name(value)}.")
    return None


def _check_unknown_keys(
    mapping: dict[str, Any],
    allowed: Iterable[str],
    path: KeyPath,
    located: _Located,
    what: str,
    other_kinds: dict[str, str] | None = None,
) -> bool:
    allowed = list(allowed)
    ok = True
    for key in mapping:
        if key in allowed:
            continue
        ok = False
        label = _describe((*path, key))
        belongs = (other_kinds or {}).get(key)
        if belongs:
            message = f"{label}: {key!r} belongs to {belongs} stages, not to {what}."
        else:
            message = f"{label}: unknown key {key!r} in {what}."
        located.problem((*path, key), f"{message} Allowed keys: {', '.join(allowed)}.")
    return ok


def _check_required_keys(
    mapping: dict[str, Any], required: Iterable[str], path: KeyPath, located: _Located, what: str
) -> bool:
    missing = [key for key in required if key not in mapping]
    for key in missing:
        located.problem(path, f"{_describe(path)}: {what} needs the key {key!r}.")
    return not missing


def _typed_values(
    raw: dict[str, Any], fields: Iterable[AuthoredField], path: KeyPath, located: _Located
) -> tuple[dict[str, Any], bool]:
    """Form data for the keys present in ``raw``, and whether all had the right type."""
    data: dict[str, Any] = {}
    ok = True
    for field in fields:
        if field.key in raw:
            before = len(located.problems)
            key_path = (*path, field.key)
            data[field.name] = _check_value(raw[field.key], field.type, key_path, located)
            ok = ok and len(located.problems) == before
    return data, ok


def _required_keys(fields: Iterable[AuthoredField]) -> list[str]:
    return [field.key for field in fields if field.required]


def _a(word: str) -> str:
    return f"an {word}" if word[:1] in "aeiou" else f"a {word}"


def _form_problems(
    form: ModelForm, fields: Iterable[AuthoredField], path: KeyPath, located: _Located
) -> None:
    key_for_field = {field.name: field.key for field in fields}
    for field_name, errors in form.errors.items():
        key = key_for_field.get(field_name)
        where = (*path, key) if key else path
        label = _describe(where)
        if not key and field_name != NON_FIELD_ERRORS:
            label = f"{label} ({field_name})"
        for message in errors:
            located.problem(where, f"{label}: {message}")


# --- Import -------------------------------------------------------------------


@dataclass
class _StagePlan:
    form: ModelForm
    before: dict[str, Any] | None  # None: a new stage
    teaching: TeachingPlan = dataclasses.field(default_factory=TeachingPlan)


@dataclass
class _LessonPlan:
    slug: str
    form: LessonForm
    before: dict[str, Any] | None
    stages: list[_StagePlan]
    surplus: list[Stage]
    objectives: tuple[str, ...] = ()


def _text_list(raw: Any, path: KeyPath, located: _Located, max_length: int = 0) -> tuple[str, ...]:
    """A list of non-empty texts (each at most ``max_length`` long if given), or problems."""
    if raw is None:
        return ()
    if not isinstance(raw, list):
        located.problem(path, f"{_describe(path)} must be a list of texts, not {_type_name(raw)}.")
        return ()
    texts = []
    for index, item in enumerate(raw):
        where = (*path, index)
        text = _check_value(item, ValueType.TEXT, where, located)
        if text is None:
            continue
        if not text.strip():
            located.problem(where, f"{_describe(where)} is empty.")
        elif max_length and len(text) > max_length:
            located.problem(where, f"{_describe(where)} is longer than {max_length} characters.")
        texts.append(text.strip() if max_length else text)
    return tuple(texts)


def _plan_question(raw: Any, path: KeyPath, located: _Located) -> QuestionPlan | None:
    if _not_a_mapping(raw, path, located):
        return None
    _check_unknown_keys(raw, QUESTION_KEYS, path, located, "a question")
    if not _check_required_keys(raw, [QUESTION_PROMPT_KEY], path, located, "a question"):
        return None
    values = {}
    for key, name in QUESTION_FIELDS.items():
        value = _check_value(raw.get(key), ValueType.TEXT, (*path, key), located)
        values[name] = value or ""
    if not values["prompt"].strip():
        located.problem((*path, QUESTION_PROMPT_KEY), f"{_describe(path)}: the prompt is empty.")
    if not (values["expected_answer"].strip() or values["rubric"].strip()):
        located.problem(path, f"{_describe(path)}: {NEEDS_ANSWER_OR_RUBRIC}")
    hints = _text_list(raw.get(QUESTION_HINTS_KEY), (*path, QUESTION_HINTS_KEY), located)
    return QuestionPlan(hints=hints, **values)


def _plan_teaching(raw: dict[str, Any], path: KeyPath, located: _Located) -> TeachingPlan:
    """A chat stage's objectives and questions as its file gives them."""
    objectives = _text_list(
        raw.get(OBJECTIVES_KEY), (*path, OBJECTIVES_KEY), located, OBJECTIVE_MAX_LENGTH
    )
    raw_questions = raw.get(QUESTIONS_KEY)
    questions_path = (*path, QUESTIONS_KEY)
    if raw_questions is None:
        raw_questions = []
    if not isinstance(raw_questions, list):
        located.problem(
            questions_path,
            f"{_describe(questions_path)} must be a list, not {_type_name(raw_questions)}.",
        )
        raw_questions = []
    questions = [
        _plan_question(item, (*questions_path, index), located)
        for index, item in enumerate(raw_questions)
    ]
    return TeachingPlan(objectives, tuple(q for q in questions if q is not None))


def _extra_keys(kind: StageKind) -> tuple[str, ...]:
    """A kind's stage keys that are not model fields of it: the chat stage's teaching."""
    return CHAT_TEACHING_KEYS if kind.teaches else ()


def _snapshot(instance: Lesson | Stage, names: Iterable[str]) -> dict[str, Any]:
    return {name: getattr(instance, name) for name in names}


def _not_a_mapping(raw: Any, path: KeyPath, located: _Located) -> bool:
    if isinstance(raw, dict):
        return False
    located.problem(path, f"{_describe(path)} must be a mapping of keys, not {_type_name(raw)}.")
    return True


def _plan_stage(
    raw: Any, path: KeyPath, existing: Stage | None, located: _Located
) -> _StagePlan | None:
    if _not_a_mapping(raw, path, located):
        return None
    if "kind" not in raw:
        located.problem(path, f"{_describe(path)}: stage is missing the key 'kind'.")
        return None
    kind = KINDS.get(raw["kind"])
    if kind is None:
        located.problem(
            (*path, "kind"),
            f"{_describe((*path, 'kind'))}: unknown kind {raw['kind']!r}; "
            f"use one of {', '.join(KINDS)}.",
        )
        return None
    fields = (*COMMON_FIELDS, *kind.fields)
    other_kinds = {
        key: other.value
        for other in KINDS.values()
        if other is not kind
        for key in (*(field.key for field in other.fields), *_extra_keys(other))
    }
    what = f"{_a(kind.value)} stage"
    keys = [field.key for field in fields] + list(_extra_keys(kind))
    known_ok = _check_unknown_keys(raw, keys, path, located, what, other_kinds)
    required_ok = _check_required_keys(raw, _required_keys(fields), path, located, what)
    # Keys left out, including other kinds' fields, take the model's defaults.
    data: dict[str, Any] = {
        name: Stage._meta.get_field(name).get_default() for name in STAGE_CONTENT_FIELDS
    }
    values, types_ok = _typed_values(raw, fields, path, located)
    data.update(values)
    if not (required_ok and types_ok):
        return None
    # Unknown keys are ignored here so the form can still report other mistakes.
    snapshot = _snapshot(existing, STAGE_CONTENT_FIELDS) if existing else None
    form = StageImportForm(data=data, instance=existing or Stage())
    teaching = _plan_teaching(raw, path, located) if kind.teaches else TeachingPlan()
    if not form.is_valid():
        _form_problems(form, fields, path, located)
        return None
    return _StagePlan(form=form, before=snapshot, teaching=teaching) if known_ok else None


def _claim_slug(slug: Any, path: KeyPath, seen: dict[str, int], located: _Located) -> bool:
    """Note the line of a lesson's slug; false if an earlier lesson of the file has it."""
    if not (isinstance(slug, str) and slug):
        return True
    if slug in seen:
        located.problem(
            (*path, "slug"),
            f"{_describe((*path, 'slug'))}: the slug {slug!r} is already used by the lesson "
            f"on line {seen[slug]}.",
        )
        return False
    seen[slug] = located.line((*path, "slug")) or 0
    return True


def _plan_stages(
    raw: dict[str, Any], path: KeyPath, existing_stages: list[Stage], located: _Located
) -> tuple[list[_StagePlan], bool]:
    """Plans for a lesson's stages, matched to its existing ones by position; and if all are."""
    raw_stages = raw.get(LESSON_STAGES_KEY)
    stages_path = (*path, LESSON_STAGES_KEY)
    if raw_stages is None:
        return [], True
    if not isinstance(raw_stages, list):
        located.problem(
            stages_path, f"{_describe(stages_path)} must be a list, not {_type_name(raw_stages)}."
        )
        return [], False
    plans: list[_StagePlan] = []
    ok = True
    for index, raw_stage in enumerate(raw_stages):
        current = existing_stages[index] if index < len(existing_stages) else None
        plan = _plan_stage(raw_stage, (*stages_path, index), current, located)
        if plan is None:
            ok = False
        else:
            plans.append(plan)
    return plans, ok


def _plan_lesson(
    raw: Any, path: KeyPath, seen: dict[str, int], located: _Located
) -> _LessonPlan | None:
    if _not_a_mapping(raw, path, located):
        return None
    what = "a lesson"
    keys = [*(field.key for field in LESSON_FIELDS), OBJECTIVES_KEY, LESSON_STAGES_KEY]
    ok = _check_unknown_keys(raw, keys, path, located, what)
    required_ok = _check_required_keys(raw, _required_keys(LESSON_FIELDS), path, located, what)
    data: dict[str, Any] = {
        name: Lesson._meta.get_field(name).get_default() for name in LESSON_FIELD_NAMES
    }
    values, types_ok = _typed_values(raw, LESSON_FIELDS, path, located)
    data.update(values)
    slug = data.get("slug") or ""
    ok = _claim_slug(slug, path, seen, located) and ok and required_ok and types_ok

    existing = Lesson.objects.filter(slug=slug).first() if slug else None
    existing_stages = list(existing.stages.order_by("position", "id")) if existing else []
    stage_plans, stages_ok = _plan_stages(raw, path, existing_stages, located)
    objectives = _text_list(
        raw.get(OBJECTIVES_KEY), (*path, OBJECTIVES_KEY), located, OBJECTIVE_MAX_LENGTH
    )

    if not (required_ok and types_ok):
        return None
    snapshot = _snapshot(existing, LESSON_FIELD_NAMES) if existing else None
    form = LessonForm(data=data, instance=existing or Lesson())
    if not form.is_valid():
        _form_problems(form, LESSON_FIELDS, path, located)
        return None
    if not (ok and stages_ok):
        return None
    return _LessonPlan(
        slug=slug,
        form=form,
        before=snapshot,
        stages=stage_plans,
        surplus=existing_stages[len(stage_plans) :],
        objectives=objectives,
    )


def _plan(text: str, located: _Located) -> list[_LessonPlan]:
    data = _read(text, located)
    if located.problems:
        return []
    if data is None:
        located.problems.append(
            Problem(1, f"The file is empty; it must start with '{TOP_LEVEL_KEY}:' and a list.")
        )
        return []
    if not isinstance(data, dict) or TOP_LEVEL_KEY not in data:
        located.problem((), f"The file must start with '{TOP_LEVEL_KEY}:' and a list of lessons.")
        return []
    for key in data:
        if key != TOP_LEVEL_KEY:
            located.problem(
                (key,), f"Unknown top-level key {key!r}; only '{TOP_LEVEL_KEY}' is allowed."
            )
    lessons = data[TOP_LEVEL_KEY]
    if lessons is None:
        lessons = []
    if not isinstance(lessons, list):
        located.problem(
            (TOP_LEVEL_KEY,), f"'{TOP_LEVEL_KEY}' must be a list, not {_type_name(lessons)}."
        )
        return []
    seen: dict[str, int] = {}
    plans = []
    for index, raw in enumerate(lessons):
        plan = _plan_lesson(raw, (TOP_LEVEL_KEY, index), seen, located)
        if plan is not None:
            plans.append(plan)
    return plans


def _apply(plans: list[_LessonPlan], result: ImportResult, skip_existing: bool) -> None:
    for plan in plans:
        if plan.before is not None and skip_existing:
            result.skipped.append(plan.slug)
            continue
        lesson_changed = plan.before is None or plan.before != _snapshot(
            plan.form.instance, LESSON_FIELD_NAMES
        )
        lesson = plan.form.save() if lesson_changed else plan.form.instance
        stages_changed = bool(plan.surplus)
        for stage in plan.surplus:
            stage.delete()
            result.stages_deleted += 1
        for position, stage_plan in enumerate(plan.stages, start=1):
            stages_changed = _apply_stage(stage_plan, lesson, position, result) or stages_changed
        stages_changed = sync_objectives(lesson, None, plan.objectives) or stages_changed
        if plan.before is None:
            result.created.append(plan.slug)
        elif lesson_changed or stages_changed:
            if not lesson_changed:
                lesson.save(update_fields=["updated_at"])
            result.updated.append(plan.slug)
        else:
            result.unchanged.append(plan.slug)


def _apply_stage(plan: _StagePlan, lesson: Lesson, position: int, result: ImportResult) -> bool:
    """Save one planned stage and its teaching content; true if anything changed."""
    stage = plan.form.save(commit=False)
    moved = stage.lesson_id != lesson.pk or stage.position != position
    fields_changed = plan.before is None or moved
    fields_changed = fields_changed or plan.before != _snapshot(stage, STAGE_CONTENT_FIELDS)
    if fields_changed:
        stage.lesson = lesson
        stage.position = position
        stage.save()
    teaching_changed = sync_stage(stage, plan.teaching)
    if plan.before is None:
        result.stages_created += 1
    elif fields_changed or teaching_changed:
        result.stages_updated += 1
    return fields_changed or teaching_changed


def import_lessons(
    text: str,
    source: str = "<string>",
    *,
    dry_run: bool = False,
    skip_existing: bool = False,
) -> ImportResult:
    """Create or update the lessons in ``text``, matching them by slug.

    Each lesson's stages become exactly the file's stages, in order. Existing
    stages are updated in place rather than recreated, so learners' progress
    and chat history keep pointing at them. ``skip_existing`` leaves lessons
    that are already present untouched (the demo loader uses it so authors'
    edits survive a restart). Raises :class:`LessonFileError` listing every
    problem, with line numbers, and then nothing has been changed.
    """
    result = ImportResult(dry_run=dry_run)
    try:
        with transaction.atomic():
            located = _Located()
            plans = _plan(text, located)
            if located.problems:
                raise LessonFileError(located.problems, source)
            _apply(plans, result, skip_existing)
            if dry_run:
                transaction.set_rollback(True)
    except IntegrityError as exc:
        # Only a concurrent edit of the same lessons can get past the checks above.
        raise LessonFileError(
            [Problem(None, "The lessons were changed by someone else meanwhile; try again.")],
            source,
        ) from exc
    return result


def import_lessons_file(
    path: str | Path, *, dry_run: bool = False, skip_existing: bool = False
) -> ImportResult:
    """Import a lessons file from disk; see :func:`import_lessons`."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise LessonFileError(
            [Problem(None, f"The file is not UTF-8 text ({exc.reason}).")], str(path)
        ) from exc
    return import_lessons(text, str(path), dry_run=dry_run, skip_existing=skip_existing)


# --- Export -------------------------------------------------------------------


class _LessonDumper(yaml.SafeDumper):
    """Writes multi-line text as ``|`` blocks so exported lessons stay readable."""

    def increase_indent(self, flow: bool = False, indentless: bool = False) -> None:
        # Indent list items under their key, as people write YAML by hand.
        return super().increase_indent(flow, False)


def _represent_str(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
    style = "|" if "\n" in value else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_LessonDumper.add_representer(str, _represent_str)

EXPORT_HEADER = (
    "# Lessons for Tutor. Import with: python manage.py import_lessons FILE\n"
    "# The format is described in docs/lesson-yaml.md.\n"
)


def _authored_values(instance: Lesson | Stage, fields: Iterable[AuthoredField]) -> dict[str, Any]:
    """The keys a file gives for ``instance``: the required ones, and the others not left empty."""
    data: dict[str, Any] = {}
    for field in fields:
        value = getattr(instance, field.name)
        if field.omit_default and value == type(instance)._meta.get_field(field.name).default:
            continue
        if field.required or value not in ("", None):
            data[field.key] = value
    return data


def lesson_to_data(lesson: Lesson) -> dict[str, Any]:
    """The YAML mapping for one lesson; optional keys left at their defaults are omitted."""
    data = _authored_values(lesson, LESSON_FIELDS)
    objectives = lesson_objectives_data(lesson)
    if objectives:
        data[OBJECTIVES_KEY] = objectives
    data[LESSON_STAGES_KEY] = [
        {
            **_authored_values(stage, (*COMMON_FIELDS, *KINDS[stage.kind].fields)),
            **(stage_teaching_data(stage) if KINDS[stage.kind].teaches else {}),
        }
        for stage in lesson.stages.order_by("position", "id")
    ]
    return data


def export_lessons(slugs: Sequence[str] = ()) -> str:
    """YAML text for the lessons with ``slugs`` (all lessons if empty), ready to re-import.

    Raises ``LookupError`` naming any slug that matches no lesson.
    """
    lessons = Lesson.objects.all()
    if slugs:
        lessons = lessons.filter(slug__in=slugs)
        missing = sorted(set(slugs) - set(lessons.values_list("slug", flat=True)))
        if missing:
            raise LookupError(f"No lesson with the slug {', '.join(map(repr, missing))}.")
    lessons = lessons.order_by("position", "title", "id")
    document = {TOP_LEVEL_KEY: [lesson_to_data(lesson) for lesson in lessons]}
    body = yaml.dump(
        document,
        Dumper=_LessonDumper,
        sort_keys=False,
        allow_unicode=True,
        width=4096,
        default_flow_style=False,
    )
    return EXPORT_HEADER + body
