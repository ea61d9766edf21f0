"""The lesson page's layout: the chat gets the page on chat stages, a side panel the learner
can hide on article and video stages, a jump to the chat on phones, compact markers.

Demo lesson stages: 1 article, 2 video, 3 chat (lessons_app/fixtures/demo_lesson.yaml).
"""

from __future__ import annotations

import pytest

from lessons_app.tests.learner_pages import (
    DEMO_SLUG,
    THEMES,
    VIEWPORTS,
    new_learner,
    open_as_learner,
    shot,
)

ARTICLE_STAGE = 1
CHAT_STAGE = 3
LESSON = f"/lessons/{DEMO_SLUG}/"


def box(page, selector: str) -> dict[str, float]:
    return page.locator(selector).bounding_box()


def wait_for_chat(page) -> None:
    page.locator("#chat-input").and_(page.locator(":enabled")).wait_for()


@pytest.mark.browser
@pytest.mark.parametrize("theme", THEMES)
def test_a_chat_stage_gives_the_chat_the_page_on_a_desktop(
    local_page, running_app_shell, artifacts_dir, theme
):
    learner = new_learner(running_app_shell, stage=CHAT_STAGE)
    opened = open_as_learner(local_page, learner, "desktop", theme)
    page = opened.page
    page.goto(LESSON)
    wait_for_chat(page)
    panel = box(page, "#chat-panel")
    messages = box(page, "[data-chat-messages]")
    # Wide and tall: most of the 1280x800 screen, not a 380 px column.
    assert panel["width"] >= 800, panel
    assert panel["height"] >= 600, panel
    assert messages["height"] >= 380, messages
    # The stage is the narrow column beside it, its Next button on screen.
    assert box(page, "article.stage")["width"] <= 320
    assert page.get_by_role("button", name="Next").is_visible()
    # A chat stage's chat is the page: it has no hide button.
    assert page.locator("[data-chat-collapse]").is_hidden()
    shot(page, artifacts_dir, "layout-chat-stage", "desktop", theme)
    opened.close_and_assert_local_and_error_free()


@pytest.mark.browser
def test_the_side_panel_of_an_article_stage_hides_and_the_choice_is_remembered(
    local_page, running_app_shell, artifacts_dir
):
    learner = new_learner(running_app_shell, stage=ARTICLE_STAGE)
    opened = open_as_learner(local_page, learner, "desktop", "light")
    page = opened.page
    page.goto(LESSON)
    wait_for_chat(page)
    article_width = box(page, "article.stage")["width"]
    assert box(page, "#chat-panel")["width"] >= 350
    hide = page.get_by_role("button", name="Hide chat")
    assert hide.get_attribute("aria-expanded") == "true"
    hide.click()
    show = page.get_by_role("button", name="Show chat")
    assert show.get_attribute("aria-expanded") == "false"
    assert page.locator("#chat-input").is_hidden()
    assert box(page, "article.stage")["width"] > article_width + 180
    shot(page, artifacts_dir, "layout-article-chat-hidden", "desktop", "light")

    page.reload()
    assert page.get_by_role("button", name="Show chat").is_visible()
    assert page.locator("#chat-input").is_hidden()
    page.get_by_role("button", name="Show chat").click()
    assert page.locator("#chat-input").is_visible()
    page.reload()
    assert page.get_by_role("button", name="Hide chat").is_visible()
    opened.close_and_assert_local_and_error_free()


@pytest.mark.browser
@pytest.mark.parametrize("theme", THEMES)
def test_on_a_phone_a_control_jumps_to_the_chat_and_its_input_is_on_screen(
    local_page, running_app_shell, artifacts_dir, theme
):
    learner = new_learner(running_app_shell, stage=ARTICLE_STAGE)
    opened = open_as_learner(local_page, learner, "phone", theme)
    page = opened.page
    page.goto(LESSON)
    wait_for_chat(page)
    jump = page.get_by_role("link", name="Chat with the tutor")
    assert jump.is_visible()
    jump_box = jump.bounding_box()
    assert jump_box["y"] + jump_box["height"] <= VIEWPORTS["phone"]["height"]
    assert page.locator("[data-chat-collapse]").is_hidden()
    shot(page, artifacts_dir, "layout-article-stage", "phone", theme)
    jump.click()
    page.wait_for_function("() => window.location.hash === '#chat-panel'")
    send = page.get_by_role("button", name="Send")
    page.wait_for_function(
        "(height) => { const r = document.querySelector('#chat-input').getBoundingClientRect();"
        " return r.top >= 0 && r.bottom <= height; }",
        arg=VIEWPORTS["phone"]["height"],
    )
    assert send.is_visible()
    # Once the chat is on screen, the jump control steps aside.
    page.wait_for_function(
        "() => document.querySelector('[data-jump-to-chat]').classList"
        ".contains('jump-to-chat-away')"
    )
    shot(page, artifacts_dir, "layout-article-stage-chat", "phone", theme)
    opened.close_and_assert_local_and_error_free()


@pytest.mark.browser
@pytest.mark.parametrize("viewport_name", list(VIEWPORTS))
def test_markers_and_the_demo_note_are_compact(
    local_page, running_app_shell, artifacts_dir, viewport_name
):
    learner = new_learner(running_app_shell, stage=CHAT_STAGE)
    opened = open_as_learner(local_page, learner, viewport_name, "light")
    page = opened.page
    page.goto(LESSON)
    wait_for_chat(page)
    markers = page.locator(".chat-marker")
    assert markers.count() >= 4
    # One small line each (two on a phone, for a long stage title).
    most = 24 if viewport_name == "desktop" else 32
    # Read in one go: the list may be drawn again meanwhile (a late frame), which would
    # leave a locator of one marker pointing at nothing.
    heights = markers.evaluate_all("els => els.map((el) => el.getBoundingClientRect().height)")
    assert heights and max(heights) <= most, heights
    shot(page, artifacts_dir, "layout-markers", viewport_name, "light")
    opened.close_and_assert_local_and_error_free()

    # Before any reply, the note says the demo tutor will answer: in one short line.
    opened = open_as_learner(local_page, new_learner(running_app_shell), viewport_name, "light")
    page = opened.page
    page.goto(LESSON)
    wait_for_chat(page)
    note = page.locator("[data-chat-demo-note]")
    assert note.bounding_box()["height"] <= (24 if viewport_name == "desktop" else 40)
    opened.close_and_assert_local_and_error_free()


@pytest.mark.browser
def test_the_shift_enter_hint_shows_with_a_mouse_and_not_on_a_touch_screen(
    browser, running_app, running_app_shell, artifacts_dir
):
    learner = new_learner(running_app_shell)
    for touch, visible in ((False, True), (True, False)):
        context = browser.new_context(
            viewport=VIEWPORTS["phone" if touch else "desktop"],
            base_url=running_app,
            has_touch=touch,
            is_mobile=touch,
        )
        page = context.new_page()
        page.goto("/accounts/login/")
        page.locator("#id_username").fill(learner.username)
        page.locator("#id_password").fill(learner.password)
        with page.expect_navigation():
            page.get_by_role("button", name="Log in").click()
        page.goto(LESSON)
        assert page.locator("#chat-input-hint").is_visible() is visible
        name = "touch" if touch else "mouse"
        page.screenshot(path=str(artifacts_dir / f"layout-hint-{name}.png"))
        context.close()
