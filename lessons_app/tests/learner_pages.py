"""Helpers for the browser tests of the learner pages' look: themes, layout, languages.

Each test opens the served demo app (``running_app``) at a desktop and a phone size,
light and dark, and saves screenshots named ``<test>-<page>-<viewport>-<theme>.png``
under ``test-artifacts/`` (tutor_project/testing/browser.py).
"""

from __future__ import annotations

import uuid
from pathlib import Path

from tutor_project.testing.browser import log_in
from tutor_project.testing.running_app import Account

DEMO_SLUG = "learning-with-an-ai-tutor"
# The one outside host a page may ask for: the demo's YouTube stage, if ever shown online.
EMBED_HOST = "www.youtube-nocookie.com"
VIEWPORTS = {
    "desktop": {"width": 1280, "height": 800},
    "phone": {"width": 390, "height": 844},
}
THEMES = ("light", "dark")
LOGIN_PATH = "/accounts/login/"
PASSWORD = "learner-pages-password-5519"  # a throwaway test database
# Run in the served app's shell: a learner of its own, on stage ``stage`` of the demo.
_NEW_LEARNER = """
from django.contrib.auth import get_user_model
from lessons_app import services
from lessons_app.models import Lesson
user = get_user_model().objects.create_user(username={username!r}, password={password!r})
lesson = Lesson.objects.get(slug={slug!r})
services.get_or_start_progress(user, lesson)
for _ in range({stage} - 1):
    services.advance(user, lesson)
"""


def new_learner(running_app_shell, *, stage: int = 1) -> Account:
    """A learner of the test's own (others' progress never moves it), on ``stage``."""
    username = f"pages-{uuid.uuid4().hex[:10]}"
    running_app_shell(
        _NEW_LEARNER.format(username=username, password=PASSWORD, slug=DEMO_SLUG, stage=stage)
    )
    return Account(username, PASSWORD)


def open_as_learner(local_page, learner, viewport_name: str, theme: str):
    """A logged-in page at ``viewport_name`` whose system colour scheme is ``theme``."""
    opened = local_page(viewport=VIEWPORTS[viewport_name], ignored_hosts=(EMBED_HOST,))
    opened.page.emulate_media(color_scheme=theme)
    log_in(opened.page, LOGIN_PATH, learner.username, learner.password)
    return opened


def shot(page, artifacts_dir: Path, name: str, viewport_name: str, theme: str) -> None:
    page.screenshot(
        path=str(artifacts_dir / f"{name}-{viewport_name}-{theme}.png"), full_page=False
    )


def background_of(page, selector: str = "body") -> str:
    return page.evaluate(
        "(selector) => getComputedStyle(document.querySelector(selector)).backgroundColor",
        selector,
    )
