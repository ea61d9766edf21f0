"""Staff open a lesson's Learners page and a transcript in a real browser.

Daphne serves the project with DEBUG off (``running_app``). The seed, through
``manage.py shell``, is a lesson of its own (so the other browser tests' learners are
not affected), two learners with progress, a conversation, the tutor's records and
experiment arms (of an experiment that is never active). Headless Chromium logs in as
staff, reaches the page from the lesson list, reads the table, filters by arm and
opens a transcript. Screenshots go to ``test-artifacts/``.
"""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import pytest

from tutor_project.testing.running_app import seed_running_app

TIMEOUT_MS = 15_000
VIEWPORT = {"width": 1280, "height": 900}
STAFF = "e2e-learners-staff"
STAFF_PASSWORD = "e2e-learners-staff-password-5127"
LESSON = "E2E learners lesson"

SEED = """
import json
from django.contrib.auth import get_user_model
from lessons_app.models import (
    AnswerRecord, Conversation, Hint, HintRecord, LearningObjective, Lesson, LessonProgress,
    Message, ObjectiveRecord, Question, Stage,
)
from llm_app.models import Experiment, ExperimentArm, ProviderConfig

spec = json.loads({spec!r})
User = get_user_model()
User.objects.create_superuser(spec["staff"], "e2e-learners@example.com", spec["password"])
lesson = Lesson.objects.create(title=spec["lesson"], slug="e2e-learners", is_published=False)
read = Stage.objects.create(lesson=lesson, position=1, kind="article", title="Read", body="Air.")
talk = Stage.objects.create(
    lesson=lesson, position=2, kind="chat", title="Talk", instructions="Ask.",
    tutoring_mode="quiz",
)
air = LearningObjective.objects.create(lesson=lesson, text="Mass comes from the air")
LearningObjective.objects.create(lesson=lesson, stage=talk, text="Light powers it")
question = Question.objects.create(stage=talk, prompt="From where?", expected_answer="Air")
hint = Hint.objects.create(question=question, text="Breathe.")
experiment = Experiment.objects.create(name="E2E learners experiment", is_active=False)
arms = [
    ExperimentArm.objects.create(
        experiment=experiment,
        provider=ProviderConfig.objects.create(name=name, model="openai/gpt-4o-mini"),
    )
    for name in ("Arm one (e2e)", "Arm two (e2e)")
]
ana, ben = (User.objects.create_user(username=n) for n in ("e2e-ana", "e2e-ben"))
LessonProgress.objects.create(user=ana, lesson=lesson, current_stage=talk)
LessonProgress.objects.create(user=ben, lesson=lesson, current_stage=read)
chat = Conversation.objects.create(user=ana, lesson=lesson)
Message.objects.create(conversation=chat, role="user", stage=talk, content="Is it the air?")
reply = Message.objects.create(
    conversation=chat, role="assistant", stage=talk, content="Yes, from the air.",
    experiment_arm=arms[0],
)
Message.objects.create(
    conversation=Conversation.objects.create(user=ben, lesson=lesson),
    role="assistant", stage=read, content="Hello.", experiment_arm=arms[1],
)
ObjectiveRecord.objects.create(user=ana, objective=air, evidence="Said air.", message=reply)
AnswerRecord.objects.create(user=ana, question=question, correct=True, message=reply)
HintRecord.objects.create(user=ana, hint=hint, message=reply)
with open(spec["out"], "w") as out:
    json.dump({{"lesson_id": lesson.pk, "arm_ids": [arm.pk for arm in arms]}}, out)
"""

ROWS_JS = """() => Object.fromEntries([...document.querySelectorAll('#lesson-learners tbody tr')]
    .map(tr => [tr.dataset.learner, [...tr.querySelectorAll('[data-metric]')]
        .map(cell => cell.innerText.trim())]))"""


@pytest.fixture(scope="module")
def seeded(running_app_shell, tmp_path_factory) -> dict:
    spec = {"staff": STAFF, "password": STAFF_PASSWORD, "lesson": LESSON}
    directory = tmp_path_factory.mktemp("e2e_learners")
    return seed_running_app(running_app_shell, SEED, spec, directory)


@pytest.mark.browser
def test_staff_see_each_learners_progress_and_open_a_transcript(
    local_page, log_in, seeded, artifacts_dir
):
    opened = local_page(viewport=VIEWPORT, timeout_ms=TIMEOUT_MS)
    page = opened.page
    log_in(page, "/admin/login/", STAFF, STAFF_PASSWORD)

    page.goto("/admin/lessons_app/lesson/")
    row = page.locator("#result_list tbody tr", has_text=LESSON)
    with page.expect_navigation():
        row.get_by_role("link", name="Learners", exact=True).click()
    assert urlsplit(page.url).path == f"/admin/lessons_app/lesson/{seeded['lesson_id']}/learners/"
    assert page.get_by_role("heading", name=f"Learners: {LESSON}").is_visible()
    rows = page.evaluate(ROWS_JS)
    # learner, stages (Read, Talk), objectives (2), quiz, hints, last activity, conversation,
    # flagged messages
    ana, ben = rows["e2e-ana"], rows["e2e-ben"]
    assert ana[:6] == ["e2e-ana", "done", "current", "met", "not yet", "1 / 1"]
    assert ana[6] == "1" and ana[-2:] == ["Transcript", "0"]
    assert ben[:7] == ["e2e-ben", "current", "not yet", "not yet", "not yet", "—", "0"]
    met = page.locator('#lesson-learners tr[data-learner="e2e-ana"] td.state-met')
    assert met.get_attribute("title") == "Said air."
    page.screenshot(path=str(artifacts_dir / "admin-lesson-learners.png"), full_page=True)

    # Filtered by the first arm: only the learner it answered.
    page.locator("#id_arm").select_option(str(seeded["arm_ids"][0]))
    with page.expect_navigation():
        page.get_by_role("button", name="Filter").click()
    assert parse_qs(urlsplit(page.url).query) == {"arm": [str(seeded["arm_ids"][0])]}
    assert list(page.evaluate(ROWS_JS)) == ["e2e-ana"]
    page.screenshot(path=str(artifacts_dir / "admin-lesson-learners-arm.png"), full_page=True)

    with page.expect_navigation():
        page.get_by_role("link", name="Transcript").click()
    assert page.get_by_role("heading", name=f"Transcript: e2e-ana on {LESSON}").is_visible()
    texts = page.locator("#transcript .transcript-text").all_inner_texts()
    assert texts == ["Is it the air?", "Yes, from the air."]
    assert page.locator("#content-main form, #content-main textarea").count() == 0
    page.screenshot(path=str(artifacts_dir / "admin-transcript.png"), full_page=True)

    opened.close_and_assert_local_and_error_free()
