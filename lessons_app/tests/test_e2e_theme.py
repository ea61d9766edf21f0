"""Dark mode: the learner pages follow the system's colour scheme, or the learner's choice.

The chooser (light / dark / system) is remembered in localStorage by lessons/theme.js, a
static script (the Content-Security-Policy allows no inline one).
"""

from __future__ import annotations

import pytest

from lessons_app.tests.learner_pages import (
    DEMO_SLUG,
    LOGIN_PATH,
    THEMES,
    VIEWPORTS,
    background_of,
    new_learner,
    open_as_learner,
    shot,
)

LIGHT_BACKGROUND = "rgb(246, 247, 249)"
DARK_BACKGROUND = "rgb(15, 20, 26)"
EXPECTED = {"light": LIGHT_BACKGROUND, "dark": DARK_BACKGROUND}
PAGES = {
    "catalogue": "/",
    "lesson": f"/lessons/{DEMO_SLUG}/",
    "account": "/account/",
}


@pytest.mark.browser
@pytest.mark.parametrize("theme", THEMES)
@pytest.mark.parametrize("viewport_name", list(VIEWPORTS))
def test_pages_follow_the_system_colour_scheme(
    local_page, running_app_shell, artifacts_dir, viewport_name, theme
):
    opened = open_as_learner(local_page, new_learner(running_app_shell), viewport_name, theme)
    page = opened.page
    for name, path in PAGES.items():
        page.goto(path)
        assert background_of(page) == EXPECTED[theme], name
        assert page.get_by_label("Theme").input_value() == "system"
        shot(page, artifacts_dir, f"theme-{name}", viewport_name, theme)
    opened.close_and_assert_local_and_error_free()


@pytest.mark.browser
def test_the_chosen_theme_wins_over_the_system_and_is_remembered(
    local_page, running_app_shell, artifacts_dir
):
    opened = open_as_learner(local_page, new_learner(running_app_shell), "desktop", "light")
    page = opened.page
    page.goto("/")
    page.get_by_label("Theme").select_option("dark")
    assert background_of(page) == DARK_BACKGROUND
    # Remembered on every page, including one opened afresh.
    page.goto(f"/lessons/{DEMO_SLUG}/")
    assert page.evaluate("document.documentElement.dataset.theme") == "dark"
    assert background_of(page) == DARK_BACKGROUND
    assert background_of(page, "#chat-panel") == "rgb(23, 29, 37)"
    shot(page, artifacts_dir, "theme-chosen-lesson", "desktop", "dark")

    # Light wins over a dark system; "system" follows it again.
    page.emulate_media(color_scheme="dark")
    page.get_by_label("Theme").select_option("light")
    page.reload()
    assert background_of(page) == LIGHT_BACKGROUND
    page.get_by_label("Theme").select_option("system")
    assert background_of(page) == DARK_BACKGROUND
    page.reload()
    assert page.evaluate("document.documentElement.dataset.theme") is None
    assert page.get_by_label("Theme").input_value() == "system"
    opened.close_and_assert_local_and_error_free()


@pytest.mark.browser
@pytest.mark.parametrize("theme", THEMES)
def test_log_in_and_sign_up_pages_have_the_chooser(local_page, artifacts_dir, theme):
    for viewport_name in VIEWPORTS:
        opened = local_page(viewport=VIEWPORTS[viewport_name])
        page = opened.page
        page.emulate_media(color_scheme=theme)
        for name, path in (("login", LOGIN_PATH), ("signup", "/signup/")):
            page.goto(path)
            assert background_of(page) == EXPECTED[theme]
            assert page.get_by_label("Theme").is_visible()
            shot(page, artifacts_dir, f"theme-{name}", viewport_name, theme)
        opened.close_and_assert_local_and_error_free()
