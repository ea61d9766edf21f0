"""The offline demo tutor's lesson-aware replies, through the real seam and LiteLLM.

``lessons_app.demo_tutor`` is plugged into ``llm_app.demo_provider`` by
``LessonsAppConfig.ready()``, so a demo model talks about the lesson in the prompt.
"""

import re

import pytest

from lessons_app.demo_tutor import compose_reply, template_pattern
from lessons_app.models import Lesson, Stage
from lessons_app.prompts import (
    BEGIN_CONVERSATION,
    STAGE_HEADER,
    TRANSITION_TOOL,
    build_system_prompt,
)
from llm_app.llm import stream_chat
from llm_app.providers import DEMO_MODEL, ResolvedProvider

DEMO = ResolvedProvider(model=DEMO_MODEL, name="Demo", extra_params={"word_delay": 0})


def chat_stage(title: str = "Where does a tree's mass come from?") -> Stage:
    lesson = Lesson(title="How plants make food", slug="plants")
    return Stage(
        lesson=lesson,
        kind=Stage.Kind.CHAT,
        title=title,
        instructions="Check understanding.",
        show_tutor_previous_content=True,
    )


async def reply(messages, tools=None):
    system = build_system_prompt(
        chat_stage(),
        previous_content="Plants turn carbon dioxide and water into sugar using sunlight energy.",
    )
    return [e async for e in stream_chat(messages, system, tools=tools, provider=DEMO)]


async def test_opening_is_lesson_aware_and_streams_word_by_word():
    events = await reply([{"role": "user", "content": BEGIN_CONVERSATION}], tools=[TRANSITION_TOOL])
    texts = [e["content"] for e in events if e["type"] == "text"]
    assert len(texts) > 10
    full = "".join(texts)
    assert "Where does a tree's mass come from?" in full
    assert "Plants turn carbon dioxide and water into sugar" in full
    assert [e["type"] for e in events[-2:]] == ["usage", "done"]
    assert not any(e["type"] == "tool_use" for e in events)


@pytest.mark.parametrize("message", ["I'm ready to move on", "ok, next stage please"])
async def test_ready_learner_triggers_transition_on_chat_stages(message):
    events = await reply(
        [
            {"role": "user", "content": BEGIN_CONVERSATION},
            {"role": "assistant", "content": "Hello!"},
            {"role": "user", "content": message},
        ],
        tools=[TRANSITION_TOOL],
    )
    assert {"type": "tool_use", "name": "transition_to_next"} in events
    assert events[-1] == {"type": "done"}


async def test_no_transition_without_the_tool():
    events = await reply([{"role": "user", "content": "I'm ready to move on"}])
    assert not any(e["type"] == "tool_use" for e in events)
    assert "I'm ready to move on" in "".join(e["content"] for e in events if e["type"] == "text")


async def test_a_question_is_answered_with_the_most_relevant_line_of_the_material():
    events = await reply(
        [{"role": "user", "content": "Where does the sugar come from?"}], tools=[TRANSITION_TOOL]
    )
    text = "".join(e["content"] for e in events if e["type"] == "text")
    assert text.startswith("Good question.")
    assert "Plants turn carbon dioxide and water into sugar using sunlight energy." in text


async def test_quoted_material_reads_as_plain_text_without_markdown_marks():
    system = build_system_prompt(
        chat_stage(),
        previous_content="Psychologists call this\n*the generation effect*: material you make "
        "yourself sticks, as `recall` shows.",
    )
    events = [
        e
        async for e in stream_chat(
            [{"role": "user", "content": "What is the generation effect?"}], system, provider=DEMO
        )
    ]
    text = "".join(e["content"] for e in events if e["type"] == "text")
    assert "Psychologists call this the generation effect: material you make yourself" in text
    assert "*" not in text and "`" not in text


def test_titles_are_read_back_through_the_prompts_own_templates():
    system = build_system_prompt(chat_stage(title='Say "cheese" {now}'))
    messages = [
        {"role": "system", "content": system},
        {"role": "user", "content": BEGIN_CONVERSATION},
    ]

    opening = compose_reply(messages, None)

    assert opening.text.startswith('Hello! I\'m the demo tutor for **Say "cheese" {now}**.')
    assert opening.tool_call is None


def test_a_template_pattern_names_each_field_and_escapes_the_rest():
    header = STAGE_HEADER.format(stage_title="Fractions (part 1)", kind="chat")
    match = re.fullmatch(template_pattern(STAGE_HEADER), header)
    assert match is not None
    assert match.group("stage_title", "kind") == ("Fractions (part 1)", "chat")
