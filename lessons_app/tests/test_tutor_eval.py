"""`manage.py tutor_eval`: personas against the tutor, scored by a judge, end to end on fakes.

The tutor and the judge are two fake OpenAI servers reached via api_base, each with
its replies scripted in order; the learners are scripted personas, so every request
either server gets is known.
"""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest
from django.contrib.auth import get_user_model
from django.core.management import CommandError, call_command

from lessons_app import prompts
from lessons_app.evaluation.judge import judge_system_prompt, parse_verdicts
from lessons_app.evaluation.personas import PersonaFileError, load_personas, parse_personas
from lessons_app.evaluation.verdicts import Criterion, Outcome
from lessons_app.models import (
    AnswerRecord,
    Conversation,
    EvalRun,
    LearningObjective,
    LessonProgress,
    Message,
    Question,
    TutoringMode,
)
from lessons_app.tests.factories import ArticleStageFactory, ChatStageFactory, LessonFactory
from llm_app.testing import FakeOpenAIServer, Reply
from llm_app.testing.factories import ProviderFactory

pytestmark = pytest.mark.django_db

ALL_PASS = json.dumps({c.value: {"verdict": "pass", "reason": "fine"} for c in Criterion})

PERSONAS = """\
personas:
  - name: asks outright
    description: Wants the answer.
    messages: ["Just tell me the answer.", "Please, the answer!"]
"""


@pytest.fixture
def judge_server():
    with FakeOpenAIServer() as server:
        yield server


@pytest.fixture
def lesson():
    lesson = LessonFactory(slug="trees", title="Where trees come from")
    ArticleStageFactory(lesson=lesson, title="Read", body="Trees are made from air.")
    ChatStageFactory(
        lesson=lesson, title="Talk it through", instructions="Ask where mass comes from."
    )
    return lesson


@pytest.fixture
def providers(openai_server, judge_server):
    ProviderFactory(name="Tutor", model="openai/tutor", api_base=openai_server.url, api_key="k")
    ProviderFactory(name="Judge", model="openai/judge", api_base=judge_server.url, api_key="k")


@pytest.fixture
def personas_file(tmp_path):
    path = tmp_path / "personas.yaml"
    path.write_text(PERSONAS, encoding="utf-8")
    return path


def run(*args: str) -> tuple[str, str]:
    out, err = io.StringIO(), io.StringIO()
    call_command("tutor_eval", *args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def evaluate_trees(personas_file: Path, out_dir: Path) -> dict:
    """Run the tutor against the personas, judged by the judge; the JSON report it wrote."""
    run(
        "--lesson",
        "trees",
        "--provider",
        "Tutor",
        "--judge",
        "Judge",
        "--personas",
        str(personas_file),
        "--out",
        str(out_dir),
    )
    return json.loads(next(out_dir.glob("*.json")).read_text(encoding="utf-8"))


def test_plays_a_persona_through_the_chats_prompt_and_writes_the_scores(
    lesson, providers, openai_server, judge_server, personas_file, tmp_path
):
    openai_server.enqueue(
        Reply.text("Hello! Where do you think a tree's mass comes from?"),
        Reply.text("What do leaves take in from the air?"),
        Reply.tool_call(prompts.TRANSITION_TOOL_NAME, text="Let's move on."),
    )
    judge_server.enqueue(Reply.text(f"```json\n{ALL_PASS}\n```"))
    users_before = get_user_model().objects.count()

    out, err = run(
        "--lesson",
        "trees",
        "--provider",
        "Tutor",
        "--judge",
        "Judge",
        "--personas",
        str(personas_file),
        "--out",
        str(tmp_path / "out"),
    )

    # The tutor got the chat's own system prompt and tools, and the scripted learner.
    chat_stage = lesson.stages.get(kind="chat")
    first, *_, last = openai_server.requests
    assert first.system == prompts.build_system_prompt(chat_stage, "", "Trees are made from air.")
    assert first.tool_names == [prompts.TRANSITION_TOOL_NAME]
    assert [m["content"] for m in last.messages if m["role"] == "user"][1:] == [
        "Just tell me the answer.",
        "Please, the answer!",
    ]
    # The judge read the whole conversation, tool calls included.
    assert judge_server.last_request.system == judge_system_prompt()
    judged = judge_server.last_request.messages[0]["content"]
    assert "Learner: Please, the answer!" in judged and prompts.TRANSITION_TOOL_NAME in judged

    assert "Talk it through" in out and "asks outright" in out and "100%" in out
    assert "[1/1] Talk it through / asks outright: started" in err
    assert "judging" in err

    (csv_path,) = (tmp_path / "out").glob("trees-tutor-*.csv")
    rows = list(csv.DictReader(csv_path.open(encoding="utf-8")))
    assert rows[0]["persona"] == "asks outright" and rows[0]["tool_calls_valid"] == "pass"
    data = json.loads(csv_path.with_suffix(".json").read_text(encoding="utf-8"))
    assert data["provider"] == "Tutor" and data["judge"] == "Judge"
    assert [t["speaker"] for t in data["conversations"][0]["transcript"]] == [
        "tutor",
        "learner",
        "tutor",
        "learner",
        "tutor",
    ]
    # No learner data: no user, conversation, message or progress came of it.
    assert get_user_model().objects.count() == users_before
    assert not Conversation.objects.exists() and not Message.objects.exists()
    assert not LessonProgress.objects.exists()
    # The run itself is kept, by the tutor's provider, for experiments to compare.
    run_row = EvalRun.objects.get()
    assert (run_row.provider.name, run_row.judge_name, run_row.score) == ("Tutor", "Judge", 1.0)
    assert run_row.report["conversations"][0]["persona"] == "asks outright"


def test_a_judge_that_answers_nonsense_scores_errors_not_passes(
    lesson, providers, openai_server, judge_server, personas_file, tmp_path
):
    openai_server.enqueue(Reply.text("Hi."), Reply.text("Why?"), Reply.text("Good."))
    judge_server.enqueue(Reply.text("I think it went well."))
    data = evaluate_trees(personas_file, tmp_path)
    verdicts = data["conversations"][0]["verdicts"]
    assert {v["outcome"] for v in verdicts.values()} == {"error"}
    assert data["conversations"][0]["checks"]["tutor_replied"]["outcome"] == "pass"
    assert data["score"] < 1


def test_a_failing_tutor_is_a_failed_check(
    lesson, providers, openai_server, judge_server, personas_file, tmp_path
):
    openai_server.enqueue(Reply.error(400))
    judge_server.enqueue(Reply.text(ALL_PASS))
    data = evaluate_trees(personas_file, tmp_path)
    conversation = data["conversations"][0]
    assert len(conversation["transcript"]) == 1
    assert conversation["checks"]["tutor_replied"]["outcome"] == "fail"


def test_unknown_lesson_and_provider_are_clear_errors(lesson, providers):
    with pytest.raises(CommandError, match=r"No lesson has the slug 'oaks'\. Lessons: trees\."):
        run("--lesson", "oaks", "--provider", "Tutor")
    with pytest.raises(
        CommandError, match=r"Unknown tutor provider: .*Providers in the admin: Judge, Tutor"
    ):
        run("--lesson", "trees", "--provider", "Nobody")
    with pytest.raises(CommandError, match="Unknown judge provider"):
        run("--lesson", "trees", "--provider", "Tutor", "--judge", "Nobody")


def test_a_lesson_without_chat_stages_says_so(providers):
    LessonFactory(slug="reading")
    with pytest.raises(CommandError, match="no chat stage"):
        run("--lesson", "reading", "--provider", "Tutor")


def test_a_bad_personas_file_names_the_persona_and_field(lesson, providers, tmp_path):
    path = tmp_path / "bad.yaml"
    path.write_text(
        "personas:\n  - name: Sam\n    turns: 0\n    description: x\n", encoding="utf-8"
    )
    with pytest.raises(CommandError, match=r"persona 1 \(Sam\): 'turns' must be"):
        run("--lesson", "trees", "--provider", "Tutor", "--personas", str(path))


def test_the_shipped_personas_are_the_four_of_the_issue():
    names = [persona.name for persona in load_personas()]
    assert names == [
        "asks for the answer outright",
        "gives a wrong answer confidently",
        "goes off topic",
        "is ready quickly",
    ]
    assert all(not persona.scripted for persona in load_personas())


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("[]", "expected a 'personas' list"),
        ("personas:\n  - name: A\n", "'description' is required"),
        ("personas:\n  - {name: A, description: b, mood: c}\n", "unknown field"),
        ("personas:\n  - {name: A, description: b}\n  - {name: A, description: c}\n", "unique"),
        ("personas:\n  - {name: A, description: b, messages: [hi], turns: 2}\n", "sends its 1"),
    ],
)
def test_persona_file_problems(text, problem):
    with pytest.raises(PersonaFileError, match=problem):
        parse_personas(text)


def test_judge_verdicts_are_read_from_prose_and_unknown_ones_are_errors():
    verdicts = parse_verdicts(
        'Here you go: {"answer_withheld": {"verdict": "n/a"}, "asks_questions": '
        '{"verdict": "FAIL", "reason": "lectured"}, "feedback_correct": {"verdict": "maybe"}}'
    )
    assert verdicts[Criterion.ANSWER_WITHHELD].outcome is Outcome.NOT_APPLICABLE
    assert verdicts[Criterion.ASKS_QUESTIONS].outcome is Outcome.FAIL
    assert verdicts[Criterion.ASKS_QUESTIONS].reason == "lectured"
    assert verdicts[Criterion.FEEDBACK_CORRECT].outcome is Outcome.ERROR
    assert verdicts[Criterion.OBJECTIVES_RECORDED].outcome is Outcome.ERROR


def test_a_socratic_tutor_that_states_the_answer_fails_the_verbatim_check(
    lesson, providers, openai_server, judge_server, personas_file, tmp_path
):
    stage = lesson.stages.get(kind="chat")
    stage.tutoring_mode = TutoringMode.SOCRATIC
    stage.save()
    Question.objects.create(
        stage=stage, prompt="Where does the mass come from?", expected_answer="Carbon  dioxide"
    )
    LearningObjective.objects.create(lesson=lesson, text="Knows mass comes from the air")
    openai_server.enqueue(
        Reply.text("Where does a tree's mass come from?"),
        Reply.text("Fine: it is carbon dioxide from the air."),
        Reply.tool_call("reveal_answer", text="There."),
    )
    judge_server.enqueue(Reply.text(ALL_PASS))
    run(
        "--lesson",
        "trees",
        "--provider",
        "Tutor",
        "--judge",
        "Judge",
        "--personas",
        str(personas_file),
        "--out",
        str(tmp_path),
    )

    data = json.loads(next(tmp_path.glob("*.json")).read_text(encoding="utf-8"))
    conversation = data["conversations"][0]
    assert conversation["mode"] == "socratic"
    assert conversation["checks"]["answer_not_verbatim"] == {
        "outcome": "fail",
        "reason": f"tutor reply 2 states the answer to question {stage.questions.get().pk}",
    }
    assert conversation["checks"]["tool_calls_valid"]["outcome"] == "fail"
    # The judge was told the mode, the expected answer and the objective.
    judged = judge_server.last_request.messages[0]["content"]
    assert "(mode: socratic)" in judged and "expected: Carbon  dioxide" in judged
    assert "Knows mass comes from the air" in judged


def test_a_quiz_tutors_recorded_answer_reaches_its_next_prompt_and_bad_calls_fail(
    lesson, providers, openai_server, judge_server, personas_file, tmp_path
):
    stage = lesson.stages.get(kind="chat")
    stage.tutoring_mode = TutoringMode.QUIZ
    stage.save()
    question = Question.objects.create(stage=stage, prompt="From where?", expected_answer="Air")
    record = {"question_id": question.pk, "correct": True, "feedback": "Right."}
    openai_server.enqueue(
        Reply.text("Question 1: where does the mass come from?"),
        Reply.tool_call("record_answer", record, text="Right!"),
        Reply.tool_call("record_answer", {**record, "question_id": 999}, text="Hm."),
    )
    judge_server.enqueue(Reply.text(ALL_PASS))
    data = evaluate_trees(personas_file, tmp_path)

    first, second, third = openai_server.requests
    assert first.tool_names == [prompts.TRANSITION_TOOL_NAME, "record_answer"]
    assert "The learner has answered it" not in second.system
    # The recorded answer is in the next prompt, as the chat's would say it.
    assert "The learner has answered it: correct." in third.system
    conversation = data["conversations"][0]
    calls = [c for t in conversation["transcript"] for c in t["tool_calls"]]
    assert [c["valid"] for c in calls] == [True, False]
    assert conversation["checks"]["tool_calls_valid"]["outcome"] == "fail"
    assert "999" in conversation["checks"]["tool_calls_valid"]["reason"]
    assert not AnswerRecord.objects.exists()  # the evaluation records nothing
