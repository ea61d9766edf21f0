"""A learner works through the demo lesson in a real browser against a real server.

Runs Daphne with DEBUG off (the ``running_app`` fixture, tutor_project/testing/running_app.py)
and drives headless Chromium through every stage, on a desktop and on a
phone-sized screen. Screenshots of each stage go to ``test-artifacts/``.
"""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlsplit

import pytest
import yaml

from lessons_app.management.commands.load_demo import DEMO_FIXTURE
from tutor_project.testing.running_app import (
    RUNNING_APP_LEARNER_PASSWORD,
    RUNNING_APP_LEARNER_USERNAME,
)

DEMO_SLUG = "learning-with-an-ai-tutor"
# The one outside host a page may ask for: the lesson's own video, not an asset.
EMBED_HOST = "www.youtube-nocookie.com"
NAVIGATION_TIMEOUT_MS = 15_000

VIEWPORTS = {
    "desktop": {"width": 1280, "height": 800},
    "phone": {"width": 375, "height": 812},
}


def demo_lesson() -> dict:
    data = yaml.safe_load(Path(DEMO_FIXTURE).read_text(encoding="utf-8"))
    [lesson] = [lesson for lesson in data["lessons"] if lesson["slug"] == DEMO_SLUG]
    return lesson


def submit(page, button_name: str) -> None:
    """Press a form button and wait for the page it leads to."""
    with page.expect_navigation(timeout=NAVIGATION_TIMEOUT_MS):
        page.get_by_role("button", name=button_name, exact=True).click()


def sign_in(page, viewport_name: str, artifacts_dir: Path) -> None:
    """The desktop run logs in with the fixture's learner; the phone run signs up afresh."""
    if viewport_name == "desktop":
        page.goto("/accounts/login/")
        page.get_by_label("Username").fill(RUNNING_APP_LEARNER_USERNAME)
        page.get_by_label("Password").fill(RUNNING_APP_LEARNER_PASSWORD)
        page.screenshot(path=str(artifacts_dir / f"login-{viewport_name}.png"))
        submit(page, "Log in")
    else:
        page.goto("/signup/")
        page.get_by_label("Username").fill("phone-learner")
        page.get_by_label("Password", exact=True).fill(RUNNING_APP_LEARNER_PASSWORD)
        page.get_by_label("Password confirmation").fill(RUNNING_APP_LEARNER_PASSWORD)
        page.screenshot(path=str(artifacts_dir / f"signup-{viewport_name}.png"), full_page=True)
        submit(page, "Sign up")
    assert urlsplit(page.url).path == "/", page.url
    assert page.get_by_role("button", name="Log out").is_visible()


def fits_the_screen(page) -> bool:
    return page.evaluate(
        "document.documentElement.scrollWidth <= document.documentElement.clientWidth"
    )


@pytest.mark.browser
@pytest.mark.parametrize("viewport_name", list(VIEWPORTS))
def test_learner_goes_through_the_demo_lesson(local_page, artifacts_dir, viewport_name):
    lesson = demo_lesson()
    titles = [stage["title"] for stage in lesson["stages"]]
    opened = local_page(
        viewport=VIEWPORTS[viewport_name],
        timeout_ms=NAVIGATION_TIMEOUT_MS,
        ignored_hosts=(EMBED_HOST,),
    )
    page = opened.page
    sign_in(page, viewport_name, artifacts_dir)

    # The catalogue lists the demo lesson.
    page.goto("/")
    assert page.get_by_role("heading", name="Lessons", level=1).is_visible()
    card_link = page.get_by_role("link", name=lesson["title"], exact=True)
    assert card_link.is_visible()
    assert fits_the_screen(page)
    page.screenshot(path=str(artifacts_dir / f"catalogue-{viewport_name}.png"), full_page=True)
    with page.expect_navigation():
        card_link.click()
    # The lesson's page shows the learner's stage, and the address bar says which.
    page.wait_for_url(f"**/lessons/{DEMO_SLUG}/stages/1/")
    assert fits_the_screen(page)

    # The stylesheet came from our own server (whitenoise), not a CDN.
    radius = page.evaluate("getComputedStyle(document.querySelector('.stage')).borderRadius")
    assert radius == "10px"

    for number, (title, stage) in enumerate(zip(titles, lesson["stages"], strict=True), start=1):
        stage_title = page.locator("#stage-title")
        assert stage_title.inner_text() == title
        assert page.get_by_text(f"Stage {number} of {len(titles)}").is_visible()
        if number == 2:
            # Back returns to the previous stage, and Next comes here again.
            submit(page, "Back")
            assert stage_title.inner_text() == titles[0]
            submit(page, "Next")
            assert stage_title.inner_text() == title
        assert urlsplit(page.url).path == f"/lessons/{DEMO_SLUG}/stages/{number}/"
        if stage["kind"] == "video":
            # The demo's own file, played from the start to the end second, offline.
            video = page.locator(".stage video")
            assert video.get_attribute("src") == (
                f"{stage['video_url']}#t={stage['start']},{stage['end']}"
            )
        chat_panel = page.locator("#chat-panel")
        assert chat_panel.is_visible()
        assert chat_panel.get_attribute("data-ws-url") == f"/ws/lessons/{DEMO_SLUG}/chat/"
        # Beside the stage on a wide screen, below it on a phone.
        stage_box = page.locator("article.stage").bounding_box()
        panel_box = chat_panel.bounding_box()
        if viewport_name == "phone":
            assert panel_box["y"] >= stage_box["y"] + stage_box["height"]
        else:
            assert panel_box["x"] >= stage_box["x"] + stage_box["width"]
        assert fits_the_screen(page), f"stage {number} scrolls sideways"
        page.screenshot(
            path=str(artifacts_dir / f"lesson-stage-{number}-{viewport_name}.png"),
            full_page=True,
        )
        assert not page.locator("#completion-banner").is_visible()
        submit(page, "Finish lesson" if number == len(titles) else "Next")

    banner = page.locator("#completion-banner")
    assert banner.is_visible()
    assert "Lesson complete" in banner.inner_text()
    assert page.locator("#stage-title").inner_text() == titles[-1]
    assert page.get_by_role("button", name="Finish lesson").count() == 0
    markers = page.locator(".chat-marker").all_inner_texts()
    assert markers[0] == f"Started reading: {titles[0]}"
    assert markers[-1] == f"Completed the lesson: {lesson['title']}"
    page.screenshot(
        path=str(artifacts_dir / f"lesson-complete-{viewport_name}.png"), full_page=True
    )

    page.goto("/")
    assert page.get_by_text("Completed", exact=True).is_visible()

    submit(page, "Log out")
    assert urlsplit(page.url).path == "/accounts/login/"
    page.goto(f"/lessons/{DEMO_SLUG}/")
    assert urlsplit(page.url).path == "/accounts/login/"

    opened.close_and_assert_local_and_error_free()
