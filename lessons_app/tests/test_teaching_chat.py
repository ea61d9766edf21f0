"""The teaching tools through the chat socket, real LiteLLM and each fake provider's wire format.

A tool call with arguments is checked, saved and shown to the learner as a ``teaching``
frame; a bad one is logged and dropped, and the learner sees nothing of either call.
"""

from __future__ import annotations

import logging

import pytest
from channels.db import database_sync_to_async

from lessons_app.models import (
    AnswerRecord,
    Hint,
    HintRecord,
    LearningObjective,
    Message,
    ObjectiveRecord,
    Question,
    TutoringMode,
)
from lessons_app.tests.chat_helpers import (
    add_provider,
    bare,
    make_user,
    open_chat,
    receive,
    receive_turn,
    send,
)
from lessons_app.tests.factories import ChatStageFactory, LessonFactory
from llm_app.models import ToolUse
from llm_app.testing import Reply

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("turn_runtime")]

MODELS = {
    "anthropic": "anthropic/claude-sonnet-4-20250514",
    "gemini": "gemini/gemini-2.5-flash",
    "openai": "openai/gpt-4o-mini",
}


def make_teaching_lesson(mode: str) -> dict[str, int]:
    """A lesson whose one stage is a chat in ``mode``, with an objective and a question;
    and another lesson's objective, whose id the tutor must not be able to record."""
    lesson = LessonFactory(title="Fractions", slug="fractions")
    stage = ChatStageFactory(
        lesson=lesson,
        position=1,
        title="Practice",
        instructions="Practise adding fractions.",
        opening_message="Let's practise.",
        tutoring_mode=mode,
    )
    objective = LearningObjective.objects.create(lesson=lesson, stage=stage, text="Adds halves")
    question = Question.objects.create(stage=stage, prompt="1/4 + 1/4?", expected_answer="1/2")
    hints = [
        Hint.objects.create(question=question, position=n, text=text)
        for n, text in enumerate(["Same bottoms.", "Add the tops."], start=1)
    ]
    other = LessonFactory(slug="other")
    elsewhere = LearningObjective.objects.create(
        lesson=other, stage=ChatStageFactory(lesson=other), text="Something else"
    )
    return {
        "objective": objective.pk,
        "question": question.pk,
        "first_hint": hints[0].pk,
        "elsewhere": elsewhere.pk,
    }


@pytest.fixture(params=sorted(MODELS))
def server(request):
    return request.getfixturevalue(f"{request.param}_server")


async def setup(server, mode: str, *, tool_use: str = ToolUse.AUTO):
    ids = await database_sync_to_async(make_teaching_lesson)(mode)
    config = await database_sync_to_async(add_provider)(
        "Fake", MODELS[server.kind], server.url, default=True
    )
    if tool_use != ToolUse.AUTO:
        config.tool_use = tool_use
        await database_sync_to_async(config.save)()
    learner = await database_sync_to_async(make_user)()
    communicator, history = await open_chat(learner, "fractions")
    opening = await receive(communicator)  # the stage's authored opening message
    assert opening["message"]["content"] == "Let's practise."
    return communicator, history, ids, learner


async def ask(communicator, content: str) -> list[dict]:
    await send(communicator, {"type": "message", "content": content})
    assert (await receive(communicator))["type"] == "message"
    return bare(await receive_turn(communicator))


def of_type(frames: list[dict], kind: str) -> list[dict]:
    return [frame for frame in frames if frame["type"] == kind]


async def test_a_judged_answer_is_recorded_and_shown_on_every_provider(server):
    communicator, history, ids, learner = await setup(server, TutoringMode.QUIZ)
    checklist = history["stage"]["teaching"]
    assert checklist["mode"] == "quiz"
    assert checklist["objectives"] == [
        {"id": ids["objective"], "text": "Adds halves", "met": False}
    ]
    assert checklist["score"] == {"correct": 0, "answered": 0, "questions": 1}

    arguments = {"question_id": ids["question"], "correct": True, "feedback": "Yes: 2/4 is 1/2."}
    server.enqueue(Reply.tool_call("record_answer", arguments, text="Right!", chunks=1))
    frames = await ask(communicator, "It's 1/2")
    await communicator.disconnect()

    assert [f["type"] for f in frames] == ["reply", "text", "teaching", "usage", "done"]
    shown = frames[2]["teaching"]
    assert shown["score"] == {"correct": 1, "answered": 1, "questions": 1}
    assert shown["questions"][0]["correct"] is True
    assert of_type(frames, "tool_use") == []
    request = server.last_request
    assert sorted(request.tool_names) == [
        "record_answer",
        "record_objective_met",
        "transition_to_next",
    ]
    assert "Tutoring mode: quiz" in request.system
    assert f"Question 1 [{ids['question']}]: 1/4 + 1/4?" in request.system

    record = await AnswerRecord.objects.select_related("message").aget()
    assert (record.user_id, record.correct, record.feedback) == (
        learner.pk,
        True,
        "Yes: 2/4 is 1/2.",
    )
    assert record.message.role == Message.Role.ASSISTANT
    assert record.message.content == "Right!"


async def test_an_objective_is_recorded_once_and_the_next_prompt_knows(openai_server):
    communicator, _, ids, learner = await setup(openai_server, TutoringMode.SOCRATIC)
    call = {"objective_id": ids["objective"], "evidence": "Explained that 2/4 is 1/2."}
    openai_server.enqueue(Reply.tool_call("record_objective_met", call, text="Nice."))
    openai_server.enqueue(Reply.tool_call("record_objective_met", call, text="Still nice."))
    first = await ask(communicator, "Halves are two quarters")
    second = await ask(communicator, "And again")
    await communicator.disconnect()

    assert of_type(first, "teaching")[0]["teaching"]["objectives"][0]["met"] is True
    assert of_type(second, "teaching") == []  # met already: nothing changed
    assert "Adds halves (already met)" in openai_server.last_request.system
    record = await ObjectiveRecord.objects.aget()
    assert (record.user_id, record.evidence) == (learner.pk, "Explained that 2/4 is 1/2.")


async def test_hints_are_revealed_in_order_and_never_past_the_last(server):
    communicator, _, ids, _ = await setup(server, TutoringMode.HINT_LADDER)
    for _ in range(3):
        server.enqueue(Reply.tool_call("reveal_hint", {"question_id": ids["question"]}, text="Hm."))
    shown = [of_type(await ask(communicator, "A hint please"), "teaching") for _ in range(3)]
    await communicator.disconnect()

    assert [frames[0]["teaching"]["questions"][0]["hints"] for frames in shown[:2]] == [
        ["Same bottoms."],
        ["Same bottoms.", "Add the tops."],
    ]
    assert shown[2] == []  # no hint left: ignored
    assert await HintRecord.objects.acount() == 2
    assert "Hint 2 (shown): Add the tops." in server.last_request.system


@pytest.mark.parametrize(
    ("name", "arguments"),
    [
        ("record_objective_met", {"objective_id": "elsewhere", "evidence": "x"}),
        ("record_objective_met", {"objective_id": 999_999, "evidence": "x"}),
        ("record_objective_met", {"objective_id": "objective"}),
        ("record_answer", {"question_id": "question", "correct": "yes", "feedback": "?"}),
        ("record_answer", {"question_id": "question", "correct": True, "feedback": "", "x": 1}),
        ("reveal_hint", {"question_id": "question"}),  # not offered in quiz mode
        ("grant_admin", {"user": "me"}),
    ],
)
async def test_a_bad_call_is_logged_and_the_learner_sees_nothing_of_it(
    openai_server, caplog, name, arguments
):
    communicator, _, ids, _ = await setup(openai_server, TutoringMode.QUIZ)
    arguments = {key: ids.get(value, value) for key, value in arguments.items()}
    openai_server.enqueue(Reply.tool_call(name, arguments, text="Let me see.", chunks=1))
    with caplog.at_level(logging.WARNING, logger="lessons_app.teaching_tools"):
        frames = await ask(communicator, "Record it")
    await communicator.disconnect()

    assert [f["type"] for f in frames] == ["reply", "text", "usage", "done"]
    assert name not in str(frames)
    assert await ObjectiveRecord.objects.acount() == 0
    assert await AnswerRecord.objects.acount() == 0
    assert await HintRecord.objects.acount() == 0
    assert f"Ignored the tutor's {name} call" in caplog.text


async def test_a_provider_without_tools_degrades_to_the_instructions(server):
    communicator, history, _, _ = await setup(server, TutoringMode.QUIZ, tool_use=ToolUse.OFF)
    server.enqueue(Reply.text("What is 1/4 + 1/4?"))
    frames = await ask(communicator, "Ready")
    await communicator.disconnect()

    assert of_type(frames, "teaching") == []
    request = server.last_request
    assert request.tools is None
    assert "Nothing you do here is recorded" in request.system
    assert "Tutoring mode: quiz" in request.system
    assert history["stage"]["teaching"]["score"]["questions"] == 1
