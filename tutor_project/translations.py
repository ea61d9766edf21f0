"""Where the project's translations come from, for ``make messages`` and the test that
every marked string has a German translation (docs/translations.md)."""

from __future__ import annotations

# Languages shipped besides English, the language the source is written in.
TRANSLATED_LANGUAGES = ("de",)
# Gettext domains: Python and templates; the scripts (Django's JavaScript catalogue).
DOMAINS = ("django", "djangojs")
# Not looked in for marked strings: tests, tools, and what is not the project's own.
IGNORED = (
    ".venv",
    ".venv/*",
    "staticfiles/*",
    "test-artifacts/*",
    "*/tests/*",
    "*/testing/*",
    "bench/*",
    "local_model_tests/*",
    "lessons_app/static/vendor/*",
    "node_modules/*",
)


def makemessages_arguments(domain: str) -> list[str]:
    """``manage.py makemessages`` arguments that refresh ``domain``'s catalogues."""
    arguments = ["makemessages", "--no-obsolete", "-d", domain]
    for language in TRANSLATED_LANGUAGES:
        arguments += ["-l", language]
    for pattern in IGNORED:
        arguments += ["--ignore", pattern]
    return arguments
