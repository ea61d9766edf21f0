"""The code's shape rules that ruff and import-linter do not check (docs/architecture.md).

- No function over :data:`MAX_FUNCTION_LINES` lines outside tests and migrations.
- No function-level imports of the project's own modules: they hide a layering
  problem (a cycle held apart at run time). ``AppConfig.ready()`` is the exception,
  since Django asks for app-loading imports there.
- Settings name no app module, so reading the environment never loads an app.
"""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
PROJECT_PACKAGES = ("tutor_project", "lessons_app", "llm_app")
MAX_FUNCTION_LINES = 60
# Django runs these after the app registry is ready; imports there are how apps wire up.
DEFERRED_IMPORT_FUNCTIONS = frozenset({"ready"})
# A dotted path into an app (an app label alone, as in INSTALLED_APPS, is fine).
APP_MODULE_PATH = re.compile(r"^(?:lessons_app|llm_app)\.\w")


@dataclass(frozen=True)
class Finding:
    path: str
    line: int
    what: str

    def __str__(self) -> str:
        return f"{self.path}:{self.line}: {self.what}"


def _is_project_module(name: str | None) -> bool:
    return bool(name) and name.split(".")[0] in PROJECT_PACKAGES


def _first_line(node: ast.FunctionDef | ast.AsyncFunctionDef) -> int:
    return min([node.lineno, *(decorator.lineno for decorator in node.decorator_list)])


def shape_findings(source: str, path: str) -> list[Finding]:
    """Long functions and function-level project imports in one module's source."""
    findings = []
    for node in ast.walk(ast.parse(source)):
        if not isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            continue
        length = node.end_lineno - _first_line(node) + 1
        if length > MAX_FUNCTION_LINES:
            findings.append(Finding(path, node.lineno, f"{node.name}() is {length} lines"))
        if node.name in DEFERRED_IMPORT_FUNCTIONS:
            continue
        for inner in ast.walk(node):
            if isinstance(inner, ast.ImportFrom) and inner.level == 0:
                names = [inner.module]
            elif isinstance(inner, ast.Import):
                names = [alias.name for alias in inner.names]
            else:
                continue
            findings.extend(
                Finding(path, inner.lineno, f"{node.name}() imports {name} inside the function")
                for name in names
                if _is_project_module(name)
            )
    return findings


def _production_modules() -> list[Path]:
    return sorted(
        path
        for package in PROJECT_PACKAGES
        for path in (REPO / package).rglob("*.py")
        if not {"tests", "migrations"} & set(path.relative_to(REPO).parts)
    )


def test_the_checker_finds_long_functions_and_deferred_project_imports():
    body = "\n".join(f"    x{line} = {line}" for line in range(MAX_FUNCTION_LINES))
    source = (
        f"def long():\n{body}\n\n"
        "def hides_a_cycle():\n    from lessons_app import models\n\n"
        "def defers_litellm():\n    import litellm\n\n"
        "class Config:\n    def ready(self):\n        from llm_app import tracing\n"
    )
    assert [finding.what for finding in shape_findings(source, "m.py")] == [
        f"long() is {MAX_FUNCTION_LINES + 1} lines",
        "hides_a_cycle() imports lessons_app inside the function",
    ]


def test_production_modules_are_found():
    modules = {path.relative_to(REPO).as_posix() for path in _production_modules()}
    assert "llm_app/llm.py" in modules
    assert not any("/tests/" in module or "/migrations/" in module for module in modules)


@pytest.mark.parametrize(
    "path", _production_modules(), ids=lambda path: str(path.relative_to(REPO))
)
def test_module_shape(path: Path):
    findings = shape_findings(path.read_text(), str(path.relative_to(REPO)))
    assert not findings, "\n".join(map(str, findings))


def app_modules_named(source: str) -> list[str]:
    """App modules a settings module imports or names by dotted path (comments aside)."""
    named = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            named += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module:
            named.append(node.module)
        elif isinstance(node, ast.Constant) and isinstance(node.value, str):
            named.append(node.value)
    return [name for name in named if APP_MODULE_PATH.match(name)]


def test_the_settings_check_finds_imports_and_dotted_paths_not_labels_or_comments():
    source = (
        "from llm_app.tracing import x\n"
        "INSTALLED_APPS = ['lessons_app']  # lessons_app.observability\n"
        "LOGGING = {'()': 'lessons_app.observability.Formatter'}\n"
    )
    assert app_modules_named(source) == ["llm_app.tracing", "lessons_app.observability.Formatter"]


def test_settings_name_no_app_module():
    settings = (REPO / "tutor_project" / "settings.py").read_text()
    assert not app_modules_named(settings)
