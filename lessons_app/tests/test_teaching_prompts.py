"""The tutor's prompt in each tutoring mode: golden files, what each mode promises, tools.

Regenerate the golden files after a deliberate change with ``UPDATE_GOLDEN=1`` (see
test_prompts.py) and review the diff.
"""

from __future__ import annotations

import pytest

from lessons_app.models import Lesson, Stage, TutoringMode
from lessons_app.prompts import (
    QUESTIONS_TAG,
    TRANSITION_TOOL_NAME,
    build_system_prompt_parts,
    offered_tools,
    send_message,
)
from lessons_app.teaching import (
    HintItem,
    LearnerTeaching,
    ObjectiveItem,
    QuestionItem,
    StageTeaching,
)
from lessons_app.teaching_tools import TeachingTool
from lessons_app.tests.factories import ChatStageFactory, LessonFactory
from lessons_app.tests.test_prompts import assert_matches_golden

HINTS = (
    HintItem(31, "Look at the bottom numbers."),
    HintItem(32, "They are the same, so the parts are the same size."),
    HintItem(33, "Add the top numbers and keep the bottom one."),
)
QUESTIONS = (
    QuestionItem(21, "What is 1/4 + 1/4?", expected_answer="1/2", hints=HINTS),
    QuestionItem(
        22,
        "Why can't you add 1/2 and 1/3 by adding tops and bottoms?",
        rubric="Says the parts are of different sizes, or that a common denominator is needed.",
    ),
)
OBJECTIVES = (
    ObjectiveItem(11, "Adds fractions with a common denominator"),
    ObjectiveItem(12, "Explains why denominators must match"),
)
# The learner has met the first objective, answered the first question right, seen one hint.
LEARNER = LearnerTeaching(met={11}, answers={21: True}, hints_shown={21: 1})


@pytest.fixture
def stage() -> Stage:
    lesson: Lesson = LessonFactory.build(title="Adding fractions", slug="adding-fractions")
    return ChatStageFactory.build(
        lesson=lesson, position=2, title="Practice", instructions="Practise adding fractions."
    )


def teaching(mode: str) -> StageTeaching:
    return StageTeaching(mode=mode, objectives=OBJECTIVES, questions=QUESTIONS)


def tool_names(mode: str) -> list[str]:
    return [tool["function"]["name"] for tool in offered_tools(teaching(mode))]


@pytest.mark.parametrize(
    "mode", [TutoringMode.SOCRATIC, TutoringMode.HINT_LADDER, TutoringMode.QUIZ]
)
def test_each_mode_prompt_matches_golden(stage: Stage, mode: str) -> None:
    prompt = build_system_prompt_parts(stage, teaching=teaching(mode), learner=LEARNER)
    assert_matches_golden(f"chat_stage_{mode}", prompt.joined())
    assert f"<{QUESTIONS_TAG}>" in prompt.instructions
    assert "[11] Adds fractions with a common denominator (already met)" in prompt
    assert "[12] Explains why denominators must match\n" in prompt


def test_socratic_never_states_the_answer_and_gives_hints_in_order(stage: Stage) -> None:
    prompt = build_system_prompt_parts(
        stage, teaching=teaching(TutoringMode.SOCRATIC), learner=LEARNER
    )
    assert "Never state the final answer" in prompt
    assert "asks for it outright" in prompt
    assert "Hint 1 (shown): Look at the bottom numbers." in prompt
    assert "Next hint, not shown yet: They are the same" in prompt
    # Never a hint past the next one: the tutor cannot skip ahead to what it does not see.
    assert HINTS[2].text not in prompt
    assert tool_names(TutoringMode.SOCRATIC) == [
        TRANSITION_TOOL_NAME,
        TeachingTool.RECORD_OBJECTIVE_MET,
        TeachingTool.REVEAL_HINT,
    ]


def test_hint_ladder_reveals_only_through_the_tool(stage: Stage) -> None:
    fresh = build_system_prompt_parts(stage, teaching=teaching(TutoringMode.HINT_LADDER))
    assert "never skip ahead" in fresh
    assert f"call {TeachingTool.REVEAL_HINT}" in fresh
    assert "Next hint, not shown yet: Look at the bottom numbers." in fresh
    assert "(shown)" not in fresh
    assert HINTS[1].text not in fresh and HINTS[2].text not in fresh
    assert TeachingTool.REVEAL_HINT in tool_names(TutoringMode.HINT_LADDER)
    assert TeachingTool.RECORD_ANSWER not in tool_names(TutoringMode.HINT_LADDER)


def test_quiz_asks_one_at_a_time_judges_and_records(stage: Stage) -> None:
    prompt = build_system_prompt_parts(stage, teaching=teaching(TutoringMode.QUIZ), learner=LEARNER)
    assert "one at a time" in prompt
    assert f"call {TeachingTool.RECORD_ANSWER}" in prompt
    assert "Expected answer: 1/2" in prompt
    assert "Rubric: Says the parts are of different sizes" in prompt
    assert "The learner has answered it: correct." in prompt
    assert tool_names(TutoringMode.QUIZ) == [
        TRANSITION_TOOL_NAME,
        TeachingTool.RECORD_OBJECTIVE_MET,
        TeachingTool.RECORD_ANSWER,
    ]


def test_open_mode_with_objectives_only_records_objectives(stage: Stage) -> None:
    open_stage = StageTeaching(mode=TutoringMode.OPEN, objectives=OBJECTIVES)
    prompt = build_system_prompt_parts(stage, teaching=open_stage)
    assert "Tutoring mode" not in prompt
    assert f"call {TeachingTool.RECORD_OBJECTIVE_MET}" in prompt
    assert [t["function"]["name"] for t in offered_tools(open_stage)] == [
        TRANSITION_TOOL_NAME,
        TeachingTool.RECORD_OBJECTIVE_MET,
    ]


def test_without_tools_the_stage_degrades_to_its_instructions(stage: Stage) -> None:
    prompt = build_system_prompt_parts(
        stage, teaching=teaching(TutoringMode.HINT_LADDER), learner=LEARNER, offers_tool=False
    )
    assert_matches_golden("chat_stage_hint_ladder_without_tools", prompt.joined())
    assert "Nothing you do here is recorded" in prompt
    assert "never skip ahead" in prompt
    for name in [TRANSITION_TOOL_NAME, *TeachingTool]:
        assert name not in prompt
    # Every hint, in order, for the tutor to give one at a time itself; no ids to call with.
    assert all(f"Hint {n}: {hint.text}" in prompt for n, hint in enumerate(HINTS, start=1))
    assert "[11]" not in prompt and "[21]" not in prompt


def test_a_stage_without_teaching_content_keeps_todays_prompt(stage: Stage) -> None:
    plain = build_system_prompt_parts(stage)
    socratic = build_system_prompt_parts(stage, teaching=StageTeaching(TutoringMode.SOCRATIC))
    assert "Tutoring mode" not in plain
    assert socratic.startswith(plain.instructions.rsplit("\n\n", 1)[0])
    assert "Never state the final answer" in socratic
    assert offered_tools(StageTeaching()) == offered_tools(StageTeaching(TutoringMode.QUIZ))


async def test_send_message_offers_the_stage_tools(stage: Stage, monkeypatch) -> None:
    calls = []

    async def fake_stream_chat(**kwargs):
        calls.append(kwargs)
        yield {"type": "done"}

    monkeypatch.setattr("llm_app.llm.stream_chat", fake_stream_chat)
    events = [
        event
        async for event in send_message(
            [], stage, provider="openai/gpt-4o-mini", teaching=teaching(TutoringMode.QUIZ)
        )
    ]
    assert events == [{"type": "done"}]
    assert [t["function"]["name"] for t in calls[0]["tools"]] == tool_names(TutoringMode.QUIZ)
    assert "Tutoring mode: quiz" in calls[0]["system"]
