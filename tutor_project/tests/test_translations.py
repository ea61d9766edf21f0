"""Every string marked for translation has a German translation, compiled and committed.

The marked strings are extracted afresh from a copy of the source (Django's
makemessages, merged into the committed catalogues as ``make messages`` does), so a
string marked in a template, in Python or in chat.js without a translation fails here.
"""

from __future__ import annotations

import gettext
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from django.conf import settings

from tutor_project.testing.required_services import require
from tutor_project.translations import DOMAINS, TRANSLATED_LANGUAGES, makemessages_arguments

BASE_DIR = Path(settings.BASE_DIR)
SOURCE_PARTS = ("manage.py", "lessons_app", "llm_app", "tutor_project", "templates", "locale")
COMMAND_TIMEOUT_SECONDS = 300


def _needs_gettext() -> None:
    require(
        shutil.which("msgfmt") is not None and shutil.which("xgettext") is not None,
        "needs GNU gettext: apt-get install -y gettext",
    )


def _copy_of_the_source(tmp_path: Path) -> Path:
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc", "tests", "vendor", "staticfiles")
    for part in SOURCE_PARTS:
        source = BASE_DIR / part
        if source.is_dir():
            shutil.copytree(source, tmp_path / part, ignore=ignore)
        else:
            shutil.copy2(source, tmp_path / part)
    return tmp_path


def _statistics(po_file: Path) -> str:
    result = subprocess.run(  # noqa: S603 - fixed arguments
        ["msgfmt", "--check", "--statistics", "-o", os.devnull, str(po_file)],  # noqa: S607
        capture_output=True,
        text=True,
        check=True,
        timeout=COMMAND_TIMEOUT_SECONDS,
    )
    return result.stderr.strip().splitlines()[-1]


@pytest.mark.parametrize("language", TRANSLATED_LANGUAGES)
def test_every_marked_string_is_translated(tmp_path, language):
    _needs_gettext()
    copy = _copy_of_the_source(tmp_path)
    env = {**os.environ, "DEBUG": "1"}
    for domain in DOMAINS:
        subprocess.run(  # noqa: S603 - fixed arguments, our own manage.py
            [sys.executable, "manage.py", *makemessages_arguments(domain)],
            cwd=copy,
            env=env,
            capture_output=True,
            check=True,
            timeout=COMMAND_TIMEOUT_SECONDS,
        )
        po_file = copy / "locale" / language / "LC_MESSAGES" / f"{domain}.po"
        statistics = _statistics(po_file)
        assert "untranslated" not in statistics and "fuzzy" not in statistics, (
            f"{domain}.po ({language}) after `make messages`: {statistics}. Translate the "
            "new strings in locale/ and run `make messages` again (docs/translations.md)."
        )


@pytest.mark.parametrize("language", TRANSLATED_LANGUAGES)
@pytest.mark.parametrize("domain", DOMAINS)
def test_the_committed_mo_files_are_compiled_from_their_po_files(tmp_path, language, domain):
    _needs_gettext()
    folder = BASE_DIR / "locale" / language / "LC_MESSAGES"
    compiled = tmp_path / f"{domain}.mo"
    subprocess.run(  # noqa: S603 - fixed arguments
        ["msgfmt", "-o", str(compiled), str(folder / f"{domain}.po")],  # noqa: S607
        check=True,
        timeout=COMMAND_TIMEOUT_SECONDS,
    )
    with compiled.open("rb") as fresh, (folder / f"{domain}.mo").open("rb") as committed:
        assert gettext.GNUTranslations(committed)._catalog == (
            gettext.GNUTranslations(fresh)._catalog
        ), f"locale/{language}/LC_MESSAGES/{domain}.mo is stale: run `make messages`."
