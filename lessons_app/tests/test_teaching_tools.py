"""The teaching tools: which a stage offers, the check of a call, and what a call records."""

from __future__ import annotations

import logging

import jsonschema
import pytest
from django.utils import timezone

from lessons_app.models import (
    AnswerRecord,
    Hint,
    HintRecord,
    LearningObjective,
    LessonProgress,
    ObjectiveRecord,
    Question,
    TutoringMode,
)
from lessons_app.privacy import learner_data
from lessons_app.teaching import (
    HintItem,
    LearnerTeaching,
    ObjectiveItem,
    QuestionItem,
    StageTeaching,
    checklist,
    load_learner_teaching,
    load_stage_teaching,
)
from lessons_app.teaching_tools import (
    TOOLS,
    TeachingTool,
    check_call,
    record_call,
    tools_for,
)
from lessons_app.tests.factories import ChatStageFactory, LearnerFactory

QUIZ = StageTeaching(
    mode=TutoringMode.QUIZ,
    objectives=(ObjectiveItem(1, "Adds halves"),),
    questions=(QuestionItem(2, "1/4 + 1/4?", "1/2", hints=(HintItem(3, "Same bottoms."),)),),
)


def check(name: str, arguments: dict, teaching: StageTeaching = QUIZ):
    return check_call(name, arguments, teaching, tools_for(teaching), reply_id=7)


def test_every_tool_schema_is_a_valid_json_schema():
    for tool in TOOLS.values():
        jsonschema.Draft202012Validator.check_schema(tool["function"]["parameters"])


def test_a_stage_is_offered_only_the_tools_it_can_use():
    names = lambda teaching: [t["function"]["name"] for t in tools_for(teaching)]  # noqa: E731
    assert names(StageTeaching()) == []
    assert names(QUIZ) == [TeachingTool.RECORD_OBJECTIVE_MET, TeachingTool.RECORD_ANSWER]
    socratic = StageTeaching(TutoringMode.SOCRATIC, questions=QUIZ.questions)
    assert names(socratic) == [TeachingTool.REVEAL_HINT]


@pytest.mark.parametrize(
    ("name", "arguments", "why"),
    [
        ("record_answer", {"question_id": 2, "correct": "yes", "feedback": ""}, "schema"),
        ("record_answer", {"question_id": 2, "correct": True}, "schema"),
        ("record_objective_met", {"objective_id": 1, "evidence": ""}, "schema"),
        ("record_objective_met", {"objective_id": 1, "evidence": "x" * 2001}, "schema"),
        ("record_objective_met", {"objective_id": True, "evidence": "x"}, "schema"),
        ("record_objective_met", {"objective_id": 5, "evidence": "x"}, "id"),
        ("record_answer", {"question_id": 1, "correct": True, "feedback": ""}, "id"),
        ("reveal_hint", {"question_id": 2}, "offered"),
        ("transition_to_next", {}, "offered"),
    ],
)
def test_a_bad_call_is_refused_and_logged(caplog, name, arguments, why):
    with caplog.at_level(logging.WARNING, logger="lessons_app.teaching_tools"):
        assert check(name, arguments) is None
    assert f"Ignored the tutor's {name} call in reply 7" in caplog.text
    assert {"schema": "schema", "id": "this stage's", "offered": "not offered"}[why] in caplog.text


def test_a_good_call_passes_with_its_arguments():
    checked = check("record_answer", {"question_id": 2, "correct": False, "feedback": "No."})
    assert checked.tool == TeachingTool.RECORD_ANSWER
    assert checked.arguments["correct"] is False


@pytest.mark.django_db
def test_records_are_saved_once_and_progress_is_touched():
    stage = ChatStageFactory(tutoring_mode=TutoringMode.SOCRATIC)
    learner = LearnerFactory()
    progress = LessonProgress.objects.create(user=learner, lesson=stage.lesson)
    before = progress.updated_at
    objective = LearningObjective.objects.create(lesson=stage.lesson, text="Lesson-wide")
    own = LearningObjective.objects.create(lesson=stage.lesson, stage=stage, text="Own")
    question = Question.objects.create(stage=stage, prompt="Q?", rubric="Any")
    first = Hint.objects.create(question=question, position=1, text="One")
    Hint.objects.create(question=question, position=2, text="Two")
    teaching = load_stage_teaching(stage)
    assert [o.text for o in teaching.objectives] == ["Own", "Lesson-wide"]
    state = load_learner_teaching(learner, teaching)

    def record(name, arguments):
        checked = check(name, arguments, teaching)
        return record_call(
            checked,
            user=learner,
            lesson_id=stage.lesson_id,
            reply_id=None,
            teaching=teaching,
            state=state,
        )

    assert record("record_objective_met", {"objective_id": objective.pk, "evidence": "Said so"})
    assert not record("record_objective_met", {"objective_id": objective.pk, "evidence": "Again"})
    assert record("reveal_hint", {"question_id": question.pk})
    assert ObjectiveRecord.objects.get().evidence == "Said so"
    assert HintRecord.objects.get().hint == first
    progress.refresh_from_db()
    assert progress.updated_at > before

    reloaded = load_learner_teaching(learner, teaching)
    assert reloaded == state
    shown = checklist(teaching, reloaded)
    assert [o["met"] for o in shown["objectives"]] == [False, True]
    assert shown["questions"][0]["hints"] == ["One"]
    assert own.pk not in reloaded.met
    exported = learner_data(learner, now=timezone.now())["teaching"]
    assert exported["objectives_met"][0]["evidence"] == "Said so"
    assert [h["hint"] for h in exported["hints_shown"]] == ["One"]


@pytest.mark.django_db
def test_a_stage_that_records_nothing_costs_no_query(django_assert_num_queries):
    stage = ChatStageFactory()
    teaching = load_stage_teaching(stage)
    with django_assert_num_queries(0):
        assert load_learner_teaching(LearnerFactory.build(), teaching) == LearnerTeaching()
    assert checklist(teaching, LearnerTeaching()) is None
    assert load_stage_teaching(None) == StageTeaching()


@pytest.mark.django_db
def test_latest_answer_counts():
    stage = ChatStageFactory(tutoring_mode=TutoringMode.QUIZ)
    learner = LearnerFactory()
    question = Question.objects.create(stage=stage, prompt="Q?", expected_answer="A")
    AnswerRecord.objects.create(user=learner, question=question, correct=False)
    AnswerRecord.objects.create(user=learner, question=question, correct=True)
    state = load_learner_teaching(learner, load_stage_teaching(stage))
    assert state.answers == {question.pk: True}
