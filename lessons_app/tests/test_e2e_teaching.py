"""A learner on a quiz stage sees their checklist and score fill in, in a real browser.

Daphne serves the project (``running_app``); its default provider is pointed, for this
test only, at the fake OpenAI server of this process, scripted to judge the learner's
answer with ``record_answer``. The screenshot goes to ``test-artifacts/``.
"""

from __future__ import annotations

import pytest

from llm_app.testing import Reply
from tutor_project.testing.browser import log_in

LEARNER = "e2e-teaching-learner"
PASSWORD = "e2e-teaching-learner-password-2291"
TIMEOUT_MS = 15_000

SET_UP = """
from django.contrib.auth import get_user_model
from lessons_app.models import LearningObjective, Lesson, Question, Stage, TutoringMode
from llm_app.models import ProviderConfig
from llm_app.services import make_default
get_user_model().objects.create_user(username={learner!r}, password={password!r})
lesson = Lesson.objects.create(title="Fractions quiz", slug="fractions-quiz", is_published=True)
stage = Stage.objects.create(
    lesson=lesson, position=1, kind=Stage.Kind.CHAT, title="Quiz",
    instructions="Quiz the learner.", opening_message="Ready for a question?",
    tutoring_mode=TutoringMode.QUIZ,
)
LearningObjective.objects.create(lesson=lesson, stage=stage, text="Adds halves")
question = Question.objects.create(stage=stage, prompt="1/4 + 1/4?", expected_answer="1/2")
fake = ProviderConfig.objects.create(
    name="Fake OpenAI", model="openai/gpt-4o-mini", api_base={url!r}, api_key="test-key-e2e",
    timeout_seconds=20, max_retries=0,
)
make_default(fake)
"""
RESTORE_DEMO = """
from llm_app.models import ProviderConfig
from llm_app.services import DEMO_PROVIDER_NAME, make_default
make_default(ProviderConfig.objects.get(name=DEMO_PROVIDER_NAME))
ProviderConfig.objects.filter(name="Fake OpenAI").delete()
"""


@pytest.fixture
def quiz_lesson(running_app_shell, openai_server):
    running_app_shell(SET_UP.format(learner=LEARNER, password=PASSWORD, url=openai_server.url))
    try:
        yield openai_server
    finally:
        running_app_shell(RESTORE_DEMO)


@pytest.mark.browser
def test_the_checklist_shows_a_recorded_answer(local_page, quiz_lesson, artifacts_dir):
    opened = local_page(timeout_ms=TIMEOUT_MS)
    page = opened.page
    log_in(page, "/accounts/login/", LEARNER, PASSWORD)
    page.goto("/lessons/fractions-quiz/")
    checklist = page.locator("[data-chat-teaching]")
    checklist.wait_for(state="visible")
    assert "Quiz · 0 of 1 right" in checklist.inner_text()
    assert "○" in checklist.locator(".teaching-objectives").inner_text()

    question_id = int(checklist.locator("[data-question-id]").get_attribute("data-question-id"))
    quiz_lesson.enqueue(
        Reply.tool_call(
            "record_answer",
            {"question_id": question_id, "correct": True, "feedback": "Yes."},
            text="That's right: 2/4 is 1/2.",
        )
    )
    box = page.get_by_label("Message the tutor")
    box.fill("1/2")
    box.press("Enter")
    page.locator(".teaching-score").filter(has_text="1 of 1 right").wait_for()
    assert page.locator(".teaching-questions .is-met").count() == 1
    page.screenshot(path=str(artifacts_dir / "teaching-checklist.png"), full_page=True)
    opened.close_and_assert_local_and_error_free()
