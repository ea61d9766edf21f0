"""Stage addresses, the favicon and the demo's video stage playing with no network.

Demo lesson stages: 1 article, 2 video (the demo's own file), 3 chat.
"""

from __future__ import annotations

from urllib.parse import urlsplit

import pytest

from lessons_app.tests.learner_pages import (
    DEMO_SLUG,
    THEMES,
    VIEWPORTS,
    new_learner,
    open_as_learner,
    shot,
)

LESSON = f"/lessons/{DEMO_SLUG}/"
VIDEO_STAGE = 2
# HTMLMediaElement.HAVE_METADATA: the browser has read the file's duration and size.
HAVE_METADATA = 1


def stage_path(number: int) -> str:
    return f"{LESSON}stages/{number}/"


def record_missing(page) -> list[str]:
    missing: list[str] = []
    page.on("response", lambda r: missing.append(r.url) if r.status == 404 else None)
    return missing


@pytest.mark.browser
def test_moving_between_stages_changes_the_address_and_no_address_jumps_ahead(
    local_page, running_app_shell, artifacts_dir
):
    opened = open_as_learner(local_page, new_learner(running_app_shell), "desktop", "light")
    page = opened.page
    missing = record_missing(page)
    page.goto(LESSON)
    page.wait_for_url(f"**{stage_path(1)}")
    with page.expect_navigation():
        page.get_by_role("button", name="Next").click()
    assert urlsplit(page.url).path == stage_path(2)
    with page.expect_navigation():
        page.get_by_role("button", name="Next").click()
    assert urlsplit(page.url).path == stage_path(3)
    with page.expect_navigation():
        page.get_by_role("button", name="Back").click()
    assert urlsplit(page.url).path == stage_path(2)
    page.reload()
    assert page.locator("#stage-title").inner_text() == "Why struggling a little helps"
    # An address ahead leads to where the learner is; an unknown stage is a 404.
    page.goto(stage_path(5))
    assert urlsplit(page.url).path == stage_path(2)
    assert page.request.get(stage_path(42)).status == 404
    assert page.request.get(stage_path(0)).status == 404
    assert missing == []
    opened.close_and_assert_local_and_error_free()


@pytest.mark.browser
@pytest.mark.parametrize("theme", THEMES)
@pytest.mark.parametrize("viewport_name", list(VIEWPORTS))
def test_the_demo_video_plays_offline_with_captions_and_no_page_misses_its_favicon(
    local_page, running_app_shell, artifacts_dir, viewport_name, theme
):
    learner = new_learner(running_app_shell, stage=VIDEO_STAGE)
    opened = open_as_learner(local_page, learner, viewport_name, theme)
    page = opened.page
    missing = record_missing(page)
    for path in ("/", "/account/", LESSON):
        page.goto(path)
        icon = page.locator('link[rel="icon"]').get_attribute("href")
        assert page.request.get(icon).ok
    assert page.request.get("/favicon.ico").ok

    video = page.locator(".stage video")
    video.wait_for()
    page.wait_for_function(
        "(ready) => document.querySelector('.stage video').readyState >= ready",
        arg=HAVE_METADATA,
    )
    duration = page.evaluate("document.querySelector('.stage video').duration")
    assert duration == pytest.approx(200, abs=1)
    # The stage's span: the player starts at its start second.
    assert page.evaluate("document.querySelector('.stage video').currentTime") == 30
    # Captions: the transcript's cues, as a track the player loaded.
    page.wait_for_function(
        "() => { const t = document.querySelector('.stage video').textTracks[0];"
        " return t && t.cues && t.cues.length > 0; }"
    )
    assert page.locator(".stage iframe").count() == 0
    shot(page, artifacts_dir, "stage-video-file", viewport_name, theme)
    assert missing == []
    opened.close_and_assert_local_and_error_free()
