"""A lesson's Learners page in the admin, and the read-only transcript it links to."""

from __future__ import annotations

from html.parser import HTMLParser

import pytest
from django.contrib.auth.models import Permission
from django.urls import reverse

from lessons_app.learning_overview import lesson_overview
from lessons_app.models import (
    AnswerRecord,
    Conversation,
    Hint,
    HintRecord,
    LearningObjective,
    LessonProgress,
    Message,
    ModerationFlag,
    ObjectiveRecord,
    Question,
)
from lessons_app.tests.factories import (
    ArticleStageFactory,
    ChatStageFactory,
    LearnerFactory,
    LessonFactory,
    StaffFactory,
)
from llm_app.models import Experiment, ExperimentArm
from llm_app.testing.factories import ProviderFactory

pytestmark = pytest.mark.django_db

LEARNERS = "admin:lessons_app_lesson_learners"
TRANSCRIPT = "admin:lessons_app_conversation_transcript"


class LearnersTable(HTMLParser):
    """``{username: [cell texts by data-metric, in order]}`` from the learners table."""

    def __init__(self) -> None:
        super().__init__()
        self.rows: dict[str, list[tuple[str, str]]] = {}
        self.links: dict[str, str] = {}
        self._learner: str | None = None
        self._metric: str | None = None

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "tr" and "data-learner" in attrs:
            self._learner = attrs["data-learner"]
            self.rows[self._learner] = []
        elif tag in ("td", "th") and self._learner and "data-metric" in attrs:
            self._metric = attrs["data-metric"]
            self.rows[self._learner].append((self._metric, ""))
        elif tag == "a" and self._learner and self._metric == "conversation":
            self.links[self._learner] = attrs["href"]

    def handle_endtag(self, tag):
        if tag in ("td", "th"):
            self._metric = None
        elif tag == "tr":
            self._learner = None

    def handle_data(self, data):
        if self._learner and self._metric:
            metric, text = self.rows[self._learner][-1]
            self.rows[self._learner][-1] = (metric, " ".join(f"{text} {data}".split()))


@pytest.fixture
def course():
    lesson = LessonFactory(slug="trees", title="Trees")
    read = ArticleStageFactory(lesson=lesson, title="Read")
    talk = ChatStageFactory(lesson=lesson, title="Talk")
    quiz = ChatStageFactory(lesson=lesson, title="Quiz")
    air = LearningObjective.objects.create(lesson=lesson, text="Mass comes from the air")
    light = LearningObjective.objects.create(lesson=lesson, stage=talk, text="Light powers it")
    question = Question.objects.create(stage=quiz, prompt="From where?", expected_answer="Air")
    hint = Hint.objects.create(question=question, text="Think of breathing.")
    experiment = Experiment.objects.create(name="Tone", is_active=True)
    arm_a = ExperimentArm.objects.create(experiment=experiment, provider=ProviderFactory(name="A"))
    arm_b = ExperimentArm.objects.create(experiment=experiment, provider=ProviderFactory(name="B"))

    ada, bo, cy = (
        LearnerFactory(username="ada"),
        LearnerFactory(username="bo"),
        LearnerFactory(username="cy"),
    )
    LessonProgress.objects.create(user=ada, lesson=lesson, current_stage=quiz)
    LessonProgress.objects.create(user=bo, lesson=lesson, current_stage=read)
    LessonProgress.objects.create(user=cy, lesson=lesson, completed=True)
    ada_chat = Conversation.objects.create(user=ada, lesson=lesson)
    Message.objects.create(conversation=ada_chat, role="user", stage=talk, content="<b>air?</b>")
    reply = Message.objects.create(
        conversation=ada_chat, role="assistant", stage=talk, content="Yes!", experiment_arm=arm_a
    )
    bo_chat = Conversation.objects.create(user=bo, lesson=lesson)
    Message.objects.create(conversation=bo_chat, role="assistant", experiment_arm=arm_b)
    ObjectiveRecord.objects.create(user=ada, objective=air, evidence="Said air.", message=reply)
    for correct in (False, True):
        AnswerRecord.objects.create(user=ada, question=question, correct=correct, message=reply)
    HintRecord.objects.create(user=ada, hint=hint, message=reply)
    # Another lesson's learner is not this lesson's.
    LessonProgress.objects.create(user=LearnerFactory(username="zed"), lesson=LessonFactory())
    return lesson, (ada_chat, bo_chat), (arm_a, arm_b), (air, light)


def table(client, lesson, **query) -> LearnersTable:
    response = client.get(reverse(LEARNERS, args=[lesson.pk]), query)
    assert response.status_code == 200
    parsed = LearnersTable()
    parsed.feed(response.content.decode())
    return parsed


def test_learners_by_stages_objectives_quiz_and_hints(admin_client, course):
    lesson, (ada_chat, _), _, _ = course
    parsed = table(admin_client, lesson)
    assert list(parsed.rows) == ["ada", "bo", "cy"]
    ada = parsed.rows["ada"]
    assert [text for metric, text in ada if metric == "stage"] == ["done", "done", "current"]
    assert [text for metric, text in ada if metric == "objective"] == ["met", "not yet"]
    assert dict(ada)["quiz"] == "1 / 2" and dict(ada)["hints"] == "1"
    assert [text for metric, text in parsed.rows["bo"] if metric == "stage"] == [
        "current",
        "not yet",
        "not yet",
    ]
    assert dict(parsed.rows["bo"])["quiz"] == "—"
    assert [text for metric, text in parsed.rows["cy"] if metric == "stage"] == ["done"] * 3
    assert dict(parsed.rows["cy"])["conversation"] == "—"
    assert parsed.links["ada"] == reverse(TRANSCRIPT, args=[ada_chat.pk])


def test_the_arm_filter_keeps_the_learners_that_arm_answered(admin_client, course):
    lesson, _, (arm_a, arm_b), _ = course
    assert list(table(admin_client, lesson, arm=arm_a.pk).rows) == ["ada"]
    assert list(table(admin_client, lesson, arm=arm_b.pk).rows) == ["bo"]
    response = admin_client.get(reverse(LEARNERS, args=[lesson.pk]), {"arm": "x"})
    assert response.status_code == 400
    assert b"arm's number" in response.content


def test_the_overview_takes_a_fixed_number_of_queries(course, django_assert_num_queries):
    lesson, *_ = course
    # Stages, objectives, progress, conversations, names, three kinds of record, flags,
    # arms (2).
    with django_assert_num_queries(11):
        overview = lesson_overview(lesson)
    assert len(overview.rows) == 3


def test_the_transcript_is_read_only_and_escaped(admin_client, course):
    _, (ada_chat, _), _, _ = course
    response = admin_client.get(reverse(TRANSCRIPT, args=[ada_chat.pk]))
    html = response.content.decode()
    assert response.status_code == 200
    assert "&lt;b&gt;air?&lt;/b&gt;" in html and "<b>air?</b>" not in html
    assert "Yes!" in html and "<form" not in html.split('id="content-main"')[1]


def test_the_lesson_list_links_to_its_learners(admin_client, course):
    lesson, *_ = course
    html = admin_client.get(reverse("admin:lessons_app_lesson_changelist")).content.decode()
    assert reverse(LEARNERS, args=[lesson.pk]) in html


def test_staff_need_to_be_allowed_to_read_conversations(client, course):
    lesson, (ada_chat, _), _, _ = course
    staff = StaffFactory()
    staff.user_permissions.add(Permission.objects.get(codename="view_lesson"))
    client.force_login(staff)
    assert client.get(reverse(LEARNERS, args=[lesson.pk])).status_code == 403
    staff.user_permissions.add(Permission.objects.get(codename="view_conversation"))
    assert client.get(reverse(LEARNERS, args=[lesson.pk])).status_code == 200
    assert client.get(reverse(TRANSCRIPT, args=[ada_chat.pk])).status_code == 200


def test_learners_are_sent_to_the_admin_login(client, course):
    lesson, (ada_chat, _), _, _ = course
    client.force_login(LearnerFactory())
    for url in (reverse(LEARNERS, args=[lesson.pk]), reverse(TRANSCRIPT, args=[ada_chat.pk])):
        response = client.get(url)
        assert response.status_code == 302 and response["Location"].startswith("/admin/login/")


def test_flagged_messages_are_shown_to_staff(admin_client, course):
    lesson, (ada_chat, _), _, _ = course
    message = ada_chat.messages.get(role="user")
    ModerationFlag.objects.create(message=message, categories=["harassment"], provider_name="A")
    parsed = table(admin_client, lesson)
    assert dict(parsed.rows["ada"])["flagged"] == "1"
    assert dict(parsed.rows["bo"])["flagged"] == "0"
    html = admin_client.get(reverse(LEARNERS, args=[lesson.pk])).content.decode()
    flagged = html.split('id="flagged-messages"')[1]
    assert "harassment" in flagged and "&lt;b&gt;air?&lt;/b&gt;" in flagged
    transcript = admin_client.get(reverse(TRANSCRIPT, args=[ada_chat.pk])).content.decode()
    assert "Flagged: harassment" in transcript


def test_without_flags_there_is_no_flagged_list(admin_client, course):
    lesson, *_ = course
    html = admin_client.get(reverse(LEARNERS, args=[lesson.pk])).content.decode()
    assert 'id="flagged-messages"' not in html
