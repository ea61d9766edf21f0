"""axe-core finds no serious or critical violation on any learner page, light or dark.

The catalogue, each kind of stage (article, video, chat, with a tutor reply), log-in,
sign-up and the account page, at a desktop and a phone size.
"""

from __future__ import annotations

import pytest

from lessons_app.tests.learner_pages import (
    DEMO_SLUG,
    LOGIN_PATH,
    THEMES,
    VIEWPORTS,
    new_learner,
    open_as_learner,
    shot,
)
from tutor_project.testing.axe import axe_violations, describe

LESSON = f"/lessons/{DEMO_SLUG}/"
STAGES = {"article": 1, "video": 2, "chat": 3}


def assert_accessible(page, name: str) -> None:
    violations = axe_violations(page)
    assert violations == [], f"{name}:\n{describe(violations)}"


def wait_for_chat(page) -> None:
    page.locator("#chat-input").and_(page.locator(":enabled")).wait_for()


@pytest.mark.browser
@pytest.mark.parametrize("theme", THEMES)
@pytest.mark.parametrize("viewport_name", list(VIEWPORTS))
def test_signed_out_pages_are_accessible(local_page, artifacts_dir, viewport_name, theme):
    opened = local_page(viewport=VIEWPORTS[viewport_name])
    page = opened.page
    page.emulate_media(color_scheme=theme)
    for name, path in (("login", LOGIN_PATH), ("signup", "/signup/"), ("catalogue", "/")):
        page.goto(path)
        assert_accessible(page, name)
    # A form with its errors shown.
    page.goto("/signup/")
    page.get_by_role("button", name="Sign up").click()
    page.wait_for_selector(".field-errors")
    assert_accessible(page, "signup with errors")
    shot(page, artifacts_dir, "a11y-signup-errors", viewport_name, theme)
    opened.close_and_assert_local_and_error_free()


@pytest.mark.browser
@pytest.mark.parametrize("theme", THEMES)
@pytest.mark.parametrize("viewport_name", list(VIEWPORTS))
def test_learner_pages_and_every_stage_kind_are_accessible(
    local_page, running_app_shell, artifacts_dir, viewport_name, theme
):
    for kind, number in STAGES.items():
        learner = new_learner(running_app_shell, stage=number)
        opened = open_as_learner(local_page, learner, viewport_name, theme)
        page = opened.page
        page.goto(LESSON)
        wait_for_chat(page)
        assert_accessible(page, f"{kind} stage")
        if kind == "chat":
            # With a tutor reply streamed in (the demo tutor's markdown).
            page.locator("#chat-input").fill("Why does recalling help?")
            page.get_by_role("button", name="Send").click()
            page.locator(".chat-message-assistant[data-status='complete']").nth(1).wait_for()
            wait_for_chat(page)
            assert_accessible(page, "chat stage with a reply")
            shot(page, artifacts_dir, "a11y-chat-reply", viewport_name, theme)
            for path in ("/", "/account/"):
                page.goto(path)
                assert_accessible(page, path)
        opened.close_and_assert_local_and_error_free()


@pytest.mark.browser
def test_the_check_finds_what_it_looks_for(local_page):
    """A low-contrast text and an image without a text alternative fail it."""
    opened = local_page()
    page = opened.page
    page.goto(LOGIN_PATH)
    page.evaluate(
        "() => { const p = document.createElement('p'); p.textContent = 'Faint';"
        " p.style.color = '#ddd'; document.querySelector('main').append(p);"
        " const img = document.createElement('img');"
        " img.src = 'data:image/gif;base64,R0lGODlhAQABAAAAACw=';"
        " document.querySelector('main').append(img); }"
    )
    found = {violation["id"] for violation in axe_violations(page)}
    assert {"color-contrast", "image-alt"} <= found
    opened.close_and_assert_local_and_error_free()
