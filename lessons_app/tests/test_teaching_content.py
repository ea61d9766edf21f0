"""A chat stage's teaching content: its mode, objectives and questions in YAML and the admin."""

from __future__ import annotations

import textwrap

import pytest
import yaml
from django.contrib.auth import get_user_model
from django.db.models import F
from django.urls import reverse

from lessons_app.models import (
    Hint,
    HintRecord,
    LearningObjective,
    Lesson,
    ObjectiveRecord,
    Question,
    TutoringMode,
)
from lessons_app.tests.factories import ChatStageFactory, LessonFactory
from lessons_app.yaml_io import LessonFileError, export_lessons, import_lessons

pytestmark = pytest.mark.django_db

TAUGHT = textwrap.dedent(
    """\
    lessons:
      - title: Fractions
        slug: fractions
        objectives:
          - Explains what a denominator is
        stages:
          - kind: chat
            title: Practice
            instructions: Practise adding fractions.
            tutoring_mode: quiz
            objectives:
              - Adds fractions with a common denominator
              - Finds a common denominator
            questions:
              - prompt: What is 1/4 + 1/4?
                answer: 1/2
                hints:
                  - The denominators are the same.
                  - Add the numerators.
              - prompt: Why can't you add 1/2 and 1/3 directly?
                rubric: Mentions that the parts are of different sizes.
          - kind: chat
            title: Talk
            instructions: Talk it over.
    """
)


def _teaching(lesson: Lesson) -> dict:
    return {
        "modes": [stage.tutoring_mode for stage in lesson.stages.order_by("position")],
        "objectives": [
            (o.stage.title if o.stage else None, o.text)
            for o in LearningObjective.objects.filter(lesson=lesson).order_by(
                F("stage").asc(nulls_first=True), "position"
            )
        ],
        "questions": [
            (q.prompt, q.expected_answer, q.rubric, [h.text for h in q.hints.all()])
            for q in Question.objects.filter(stage__lesson=lesson)
        ],
    }


def test_teaching_content_survives_export_and_import():
    import_lessons(TAUGHT)
    lesson = Lesson.objects.get(slug="fractions")
    before = _teaching(lesson)
    assert before["modes"] == [TutoringMode.QUIZ, TutoringMode.OPEN]
    assert before["objectives"] == [
        (None, "Explains what a denominator is"),
        ("Practice", "Adds fractions with a common denominator"),
        ("Practice", "Finds a common denominator"),
    ]
    assert before["questions"][0] == (
        "What is 1/4 + 1/4?",
        "1/2",
        "",
        ["The denominators are the same.", "Add the numerators."],
    )
    exported = export_lessons(["fractions"])
    data = yaml.safe_load(exported)["lessons"][0]
    assert data["objectives"] == ["Explains what a denominator is"]
    assert data["stages"][0]["tutoring_mode"] == "quiz"
    assert "tutoring_mode" not in data["stages"][1], "the default mode is left out"
    assert "questions" not in data["stages"][1]

    Lesson.objects.all().delete()
    import_lessons(exported)
    assert _teaching(Lesson.objects.get(slug="fractions")) == before
    assert export_lessons(["fractions"]) == exported


def test_reimport_updates_in_place_so_learners_records_survive():
    import_lessons(TAUGHT)
    learner = get_user_model().objects.create_user("ada")
    objective = LearningObjective.objects.get(text="Finds a common denominator")
    hint = Hint.objects.get(text="Add the numerators.")
    ObjectiveRecord.objects.create(user=learner, objective=objective, evidence="said so")
    HintRecord.objects.create(user=learner, hint=hint)

    edited = TAUGHT.replace("Finds a common denominator", "Finds the least common denominator")
    result = import_lessons(edited)

    assert result.updated == ["fractions"]
    record = ObjectiveRecord.objects.get()
    assert record.objective.text == "Finds the least common denominator"
    assert HintRecord.objects.get().hint.text == "Add the numerators."
    assert import_lessons(edited).unchanged == ["fractions"]


def test_removing_a_question_from_the_file_removes_it():
    import_lessons(TAUGHT)
    shorter = TAUGHT.replace(
        "          - prompt: Why can't you add 1/2 and 1/3 directly?\n"
        "            rubric: Mentions that the parts are of different sizes.\n",
        "",
    )
    import_lessons(shorter)
    assert list(Question.objects.values_list("prompt", flat=True)) == ["What is 1/4 + 1/4?"]


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (("answer: 1/2", 'answer: ""'), "needs an expected answer or a rubric"),
        (("tutoring_mode: quiz", "tutoring_mode: lecture"), "not one of the available choices"),
        (("          - Finds a common denominator", "          - 3"), "must be text"),
        (("    objectives:\n", "    goals:\n"), "unknown key 'goals'"),
        (("    objectives:\n      - Explains what a denominator is", "    objectives: 3"), "list"),
    ],
)
def test_bad_teaching_content_names_its_line(change, message):
    with pytest.raises(LessonFileError) as caught:
        import_lessons(TAUGHT.replace(*change))
    assert message in str(caught.value)
    assert not Lesson.objects.exists()


def test_teaching_keys_belong_to_chat_stages_only():
    text = textwrap.dedent(
        """\
        lessons:
          - title: A
            slug: a
            stages:
              - kind: article
                title: Read
                body: Text.
                questions: []
        """
    )
    with pytest.raises(LessonFileError) as caught:
        import_lessons(text)
    assert "line 8" in str(caught.value)
    assert "'questions' belongs to chat stages" in str(caught.value)


def test_stage_admin_edits_objectives_and_questions(admin_client):
    stage = ChatStageFactory()
    url = reverse("admin:lessons_app_stage_change", args=[stage.pk])
    page = admin_client.get(url)
    assert page.status_code == 200
    form = page.context["adminform"].form
    data = {name: form.initial.get(name) for name in form.fields}
    data.update(
        {
            "lesson": stage.lesson_id,
            "kind": "chat",
            "tutoring_mode": "socratic",
            "show_user_previous_content": "on",
            "objectives-TOTAL_FORMS": "1",
            "objectives-INITIAL_FORMS": "0",
            "objectives-0-position": "1",
            "objectives-0-text": "States the rule",
            "questions-TOTAL_FORMS": "1",
            "questions-INITIAL_FORMS": "0",
            "questions-0-position": "1",
            "questions-0-prompt": "What is the rule?",
            "questions-0-expected_answer": "",
            "questions-0-rubric": "",
        }
    )
    data = {key: value for key, value in data.items() if value is not None and value is not False}
    refused = admin_client.post(url, data)
    assert refused.status_code == 200
    assert "needs an expected answer or a rubric" in refused.content.decode()

    data["questions-0-rubric"] = "Any correct statement of the rule."
    response = admin_client.post(url, data)
    assert response.status_code == 302
    stage.refresh_from_db()
    assert stage.tutoring_mode == TutoringMode.SOCRATIC
    objective = LearningObjective.objects.get()
    assert (objective.lesson_id, objective.stage_id) == (stage.lesson_id, stage.pk)
    question = Question.objects.get()
    hints_url = reverse("admin:lessons_app_question_change", args=[question.pk])
    assert hints_url in admin_client.get(url).content.decode()
    assert admin_client.get(hints_url).status_code == 200


def test_stage_admin_names_the_providers_that_record_nothing(admin_client):
    from llm_app.models import ToolUse
    from llm_app.testing.factories import ProviderFactory

    stage = ChatStageFactory()
    url = reverse("admin:lessons_app_stage_change", args=[stage.pk])
    ProviderFactory(name="Claude", model="anthropic/claude-sonnet-4-20250514")
    assert "Every enabled provider can call tools" in admin_client.get(url).content.decode()

    ProviderFactory(name="Tiny local", model="openai/smollm2", tool_use=ToolUse.OFF)
    ProviderFactory(name="Reasoner", model="deepseek/deepseek-reasoner")
    page = admin_client.get(url).content.decode()
    assert "records no objectives, answers or hints" in page
    assert "Tiny local: its tool use is off" in page
    assert "Reasoner: LiteLLM says its model cannot call tools" in page
    assert "Claude:" not in page


def test_lesson_admin_lists_lesson_objectives(admin_client):
    lesson = LessonFactory()
    LearningObjective.objects.create(lesson=lesson, text="Knows the words")
    page = admin_client.get(reverse("admin:lessons_app_lesson_change", args=[lesson.pk]))
    assert "Knows the words" in page.content.decode()
