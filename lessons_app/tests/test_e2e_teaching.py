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
# The served app lives for the whole session: each test starts this lesson afresh.
get_user_model().objects.filter(username={learner!r}).delete()
Lesson.objects.filter(slug="fractions-quiz").delete()
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


LONG_TALK = """
from django.contrib.auth import get_user_model
from lessons_app.models import Conversation, Message, Stage
user = get_user_model().objects.get(username={learner!r})
stage = Stage.objects.get(lesson__slug="fractions-quiz", position=1)
conversation, _ = Conversation.objects.get_or_create(user=user, lesson=stage.lesson)
for n in range(12):
    Message.objects.create(conversation=conversation, role="user", stage=stage,
                           content=f"Question {{n}}: what is {{n}}/4 + 1/4?")
    Message.objects.create(conversation=conversation, role="assistant", stage=stage,
                           content=f"Answer {{n}}. " + "Adding quarters keeps the quarters. " * 6)
"""

# Where the log cuts a message off at its top, the cut must be the log's own edge: a gap
# and a rule apart from the checklist. Without them a message scrolled half out reads as
# hidden behind the checklist. Returns the messages whose visible part (clipped by the log)
# meets the checklist's box, and the gap between the checklist and the log's rule.
GEOMETRY = """
() => {
  const box = document.querySelector("[data-chat-teaching]").getBoundingClientRect();
  const logElement = document.querySelector("[data-chat-messages]");
  const log = logElement.getBoundingClientRect();
  const covered = [...logElement.querySelectorAll(":scope > li")]
    .map((li) => li.getBoundingClientRect())
    .map((m) => ({top: Math.max(m.top, log.top), bottom: Math.min(m.bottom, log.bottom),
                  left: m.left, right: m.right}))
    .filter((m) => m.bottom > m.top)
    .filter((m) => m.top < box.bottom && m.bottom > box.top
                   && m.left < box.right && m.right > box.left).length;
  const rule = parseFloat(getComputedStyle(logElement).borderTopWidth) || 0;
  return {covered, gap: log.top - box.bottom, rule};
}
"""


@pytest.mark.browser
@pytest.mark.parametrize(
    ("name", "viewport"),
    [("desktop", {"width": 1280, "height": 800}), ("phone", {"width": 390, "height": 844})],
)
def test_the_checklist_hides_no_message_as_the_chat_scrolls(
    local_page, quiz_lesson, running_app_shell, artifacts_dir, name, viewport
):
    running_app_shell(LONG_TALK.format(learner=LEARNER))
    opened = local_page(timeout_ms=TIMEOUT_MS, viewport=viewport)
    page = opened.page
    log_in(page, "/accounts/login/", LEARNER, PASSWORD)
    page.goto("/lessons/fractions-quiz/")
    page.locator("[data-chat-teaching]").wait_for(state="visible")
    page.locator("[data-chat-messages] > li", has_text="Answer 11.").wait_for()
    messages = page.locator("[data-chat-messages]")
    for position in ("0", "el.scrollHeight / 3", "el.scrollHeight / 2", "el.scrollHeight"):
        messages.evaluate(f"(el) => {{ el.scrollTop = {position}; }}")
        page.mouse.wheel(0, 200)  # the page too, where it scrolls
        geometry = page.evaluate(GEOMETRY)
        assert geometry["covered"] == 0, f"a message is under the checklist at {position}"
        assert geometry["gap"] >= 4 and geometry["rule"] >= 1, geometry
    page.screenshot(path=str(artifacts_dir / f"teaching-checklist-scrolled-{name}.png"))
