"""Staff edit an article's anchors in a real browser and watch the excerpt preview follow.

Daphne serves the project with DEBUG off (the ``running_app`` fixture), with the
demo lesson. Headless Chromium logs in to the admin as staff, opens the demo's
first article stage on its own and in the lesson's stage inline, types new
anchors and sees the preview change, or show the form's error for an anchor that
does not occur, without saving: the stage is unchanged afterwards, so the other
browser tests sharing the server see the demo as it was. Screenshots go to
``test-artifacts/``.
"""

from __future__ import annotations

from urllib.parse import urlsplit

import pytest

from lessons_app.tests.test_e2e_lesson import DEMO_SLUG
from tutor_project.testing.browser import log_in
from tutor_project.testing.running_app import seed_running_app

TIMEOUT_MS = 15_000
VIEWPORT = {"width": 1280, "height": 900}
STAFF = "e2e-preview-staff"
STAFF_PASSWORD = "e2e-preview-staff-password-4417"
PREVIEW_PATH = "/admin/lessons_app/stage/excerpt-preview/"

SEED = """
import json
from django.contrib.auth import get_user_model
from lessons_app.models import Lesson

spec = json.loads({spec!r})
get_user_model().objects.create_superuser(spec["staff"], "preview@example.com", spec["password"])
lesson = Lesson.objects.get(slug=spec["lesson"])
stages = list(lesson.stages.order_by("position", "id"))
article = next(stage for stage in stages if stage.kind == "article")
with open(spec["out"], "w") as out:
    json.dump(
        {{
            "lesson_id": lesson.pk,
            "stage_id": article.pk,
            "inline_index": stages.index(article),
            "from_text": article.from_text,
            "to_text": article.to_text,
        }},
        out,
    )
"""

# The saved excerpt is long: the preview shows its start and how long it is in all.
SAVED_TAIL = "characters in all)"
# In the demo article, a little after its start anchor.
NEW_END = "That patience is useful"
MISSING = "Words that appear nowhere"


@pytest.fixture(scope="module")
def seeded(running_app_shell, tmp_path_factory) -> dict:
    spec = {"staff": STAFF, "password": STAFF_PASSWORD, "lesson": DEMO_SLUG}
    directory = tmp_path_factory.mktemp("e2e_stage_preview")
    return seed_running_app(running_app_shell, SEED, spec, directory)


@pytest.mark.browser
def test_article_preview_follows_the_anchors_as_typed(local_page, seeded, artifacts_dir):
    from playwright.sync_api import expect

    opened = local_page(viewport=VIEWPORT, timeout_ms=TIMEOUT_MS)
    page = opened.page
    preview_requests: list[str] = []
    page.on(
        "request",
        lambda request: (
            preview_requests.append(request.method)
            if urlsplit(request.url).path == PREVIEW_PATH
            else None
        ),
    )
    log_in(page, "/admin/login/", STAFF, STAFF_PASSWORD)
    assert urlsplit(page.url).path == "/admin/"

    # --- The stage on its own: the saved excerpt first.
    change_path = f"/admin/lessons_app/stage/{seeded['stage_id']}/change/"
    page.goto(change_path)
    preview = page.locator("div.stage-preview")
    expect(preview).to_contain_text(SAVED_TAIL)
    expect(preview).not_to_contain_text("not saved yet")

    # A new end anchor, typed key by key: one request once typing pauses, and the
    # excerpt now stops there.
    to_text = page.locator("#id_to_text")
    to_text.fill("")
    to_text.press_sequentially(NEW_END, delay=20)
    expect(preview).to_contain_text("Preview of the text as edited (not saved yet)")
    excerpt = preview.locator(".stage-preview-excerpt")
    expect(excerpt).to_have_text(
        "An AI tutor is a patient conversation partner. It never tires of the\n"
        "same question, and it does not mind if you are wrong five times in a\n"
        "row. That patience is useful"
    )
    assert 1 <= len(preview_requests) < len(NEW_END), preview_requests
    assert set(preview_requests) == {"POST"}
    page.screenshot(path=str(artifacts_dir / "admin-stage-live-preview.png"), full_page=True)

    # An end anchor that does not occur: the form's own message, in place of the excerpt.
    to_text.fill(MISSING)
    error = preview.locator(".stage-preview-error")
    expect(error).to_have_text(f"⚠ The text '{MISSING}' does not occur after the start anchor.")
    expect(excerpt).to_have_count(0)
    page.screenshot(path=str(artifacts_dir / "admin-stage-live-preview-error.png"), full_page=True)

    # Markup in the body is shown as text, never run or rendered.
    page.locator("#id_from_text").fill("")
    to_text.fill("")
    page.locator("#id_body").fill('Plain <img src="x" onerror="window.hacked=1"> <b>bold</b>')
    expect(excerpt).to_have_text('Plain <img src="x" onerror="window.hacked=1"> <b>bold</b>')
    assert preview.locator("img, b").count() == 0
    assert page.evaluate("window.hacked") is None

    # Nothing was saved: the page comes back with the stage's own anchors.
    page.goto(change_path)
    assert page.locator("#id_from_text").input_value() == seeded["from_text"]
    assert page.locator("#id_to_text").input_value() == seeded["to_text"]
    expect(preview).to_contain_text(SAVED_TAIL)

    # --- The same stage in the lesson's sortable inline.
    page.goto(f"/admin/lessons_app/lesson/{seeded['lesson_id']}/change/")
    row = page.locator(f"#stages-{seeded['inline_index']}")
    row_preview = row.locator("div.stage-preview")
    expect(row_preview).to_contain_text(SAVED_TAIL)
    row_to_text = row.locator("textarea[name$='-to_text']")
    row_to_text.fill(NEW_END)
    expect(row_preview.locator(".stage-preview-excerpt")).to_contain_text(
        "row. That patience is useful"
    )
    row_to_text.fill(MISSING)
    expect(row_preview.locator(".stage-preview-error")).to_have_text(
        f"⚠ The text '{MISSING}' does not occur after the start anchor."
    )
    # Other stages' previews are left alone.
    expect(page.locator("div.stage-preview .stage-preview-error")).to_have_count(1)
    row.scroll_into_view_if_needed()
    page.screenshot(path=str(artifacts_dir / "admin-lesson-inline-live-preview.png"))

    # Switching the row to another kind brings back the saved preview.
    row.locator("select[name$='-kind']").select_option("chat")
    expect(row_preview).to_contain_text(SAVED_TAIL)
    expect(row_preview).not_to_contain_text("not saved yet")

    opened.close_and_assert_local_and_error_free()
