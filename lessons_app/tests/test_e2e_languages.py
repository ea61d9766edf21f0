"""A German-speaking learner: pages, the chat script's texts and the tutor's frames in
German from the browser's language, and the chooser switching to English."""

from __future__ import annotations

import pytest

from lessons_app.tests.learner_pages import DEMO_SLUG, THEMES, VIEWPORTS, new_learner, shot

LESSON = f"/lessons/{DEMO_SLUG}/"


@pytest.mark.browser
@pytest.mark.parametrize("theme", THEMES)
@pytest.mark.parametrize("viewport_name", list(VIEWPORTS))
def test_a_german_browser_gets_german_pages_and_chat(
    browser, running_app, running_app_shell, artifacts_dir, viewport_name, theme
):
    learner = new_learner(running_app_shell)
    context = browser.new_context(
        viewport=VIEWPORTS[viewport_name],
        base_url=running_app,
        locale="de-DE",
        color_scheme=theme,
    )
    errors: list[str] = []
    page = context.new_page()
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.goto("/accounts/login/")
    assert page.locator("html").get_attribute("lang") == "de"
    assert page.get_by_role("heading", name="Anmelden").is_visible()
    page.locator("#id_username").fill(learner.username)
    page.locator("#id_password").fill(learner.password)
    with page.expect_navigation():
        page.get_by_role("button", name="Anmelden").click()
    assert page.get_by_role("heading", name="Lektionen", level=1).is_visible()
    shot(page, artifacts_dir, "i18n-catalogue-de", viewport_name, theme)

    page.goto(LESSON)
    assert page.get_by_text("Abschnitt 1 von 5 · Artikel").is_visible()
    with page.expect_navigation():
        page.get_by_role("button", name="Weiter").click()
    assert page.get_by_text("Abschnitt 2 von 5 · Video").is_visible()
    # Markers are saved in the learner's language.
    page.get_by_text("Lesen beendet: Explain, don't reread").wait_for()
    box = page.locator("#chat-input")
    box.and_(page.locator(":enabled")).wait_for()
    box.fill("Warum hilft Erinnern?")
    box.press("Enter")
    # The chat script's own texts come from the JavaScript catalogue.
    page.get_by_role("group", name="Diese Antwort bewerten").wait_for()
    assert page.get_by_role("button", name="Kopieren").first.is_visible()
    shot(page, artifacts_dir, "i18n-lesson-de", viewport_name, theme)

    # The chooser switches to English, and that choice wins over the browser's.
    page.get_by_label("Sprache").select_option("en")
    with page.expect_navigation():
        page.get_by_role("button", name="Ändern").click()
    assert page.locator("html").get_attribute("lang") == "en"
    assert page.get_by_text("Stage 2 of 5 · Video").is_visible()
    page.reload()
    assert page.get_by_role("button", name="Send", exact=True).is_visible()
    page.get_by_role("group", name="Rate this reply").wait_for()
    shot(page, artifacts_dir, "i18n-lesson-en", viewport_name, theme)
    context.close()
    assert errors == []
