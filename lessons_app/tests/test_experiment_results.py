"""An experiment's per-arm results page and CSV export in the admin."""

import csv
import io
from datetime import timedelta
from decimal import Decimal
from html.parser import HTMLParser

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Permission
from django.urls import reverse
from django.utils import timezone

from lessons_app.experiment_results import CSV_HEADER, arm_results
from lessons_app.learning_signals import learning_signals
from lessons_app.models import (
    AnswerRecord,
    Conversation,
    EvalRun,
    Hint,
    HintRecord,
    LearningObjective,
    Lesson,
    Message,
    MessageRating,
    ObjectiveRecord,
    Question,
    Stage,
    TurnRefusal,
)
from llm_app.models import Experiment, ExperimentArm, ProviderConfig
from llm_app.testing.factories import ProviderFactory

pytestmark = pytest.mark.django_db

CHANGELIST = "admin:llm_app_experiment_changelist"
RESULTS = "admin:llm_app_experiment_results"
RESULTS_CSV = "admin:llm_app_experiment_results_csv"


class ResultsTable(HTMLParser):
    """Collects ``{arm_id: {metric: text}}`` from the results table and the chart bar widths."""

    def __init__(self) -> None:
        super().__init__()
        self.rows: dict[int, dict[str, str]] = {}
        self.bars: list[tuple[str, str]] = []  # (aria-label of the svg, rect width)
        self._arm: int | None = None
        self._metric: str | None = None
        self._svg_label: str | None = None

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "tr" and "data-arm" in attrs:
            self._arm = int(attrs["data-arm"])
            self.rows[self._arm] = {}
        elif tag in ("td", "th") and self._arm is not None and "data-metric" in attrs:
            self._metric = attrs["data-metric"]
            self.rows[self._arm][self._metric] = ""
        elif tag == "svg":
            self._svg_label = attrs.get("aria-label")
        elif tag == "rect" and attrs.get("class") == "bar":
            self.bars.append((self._svg_label, attrs["width"]))

    def handle_endtag(self, tag):
        if tag in ("td", "th"):
            self._metric = None
        elif tag == "tr":
            self._arm = None

    def handle_data(self, data):
        if self._arm is not None and self._metric is not None:
            self.rows[self._arm][self._metric] += data.strip() + " "

    def metrics(self, arm_id: int) -> dict[str, str]:
        return {key: " ".join(value.split()) for key, value in self.rows[arm_id].items()}


def reply(conversation, arm, *, status="complete", ttft=None, tokens=(None, None), cost=None):
    return Message.objects.create(
        conversation=conversation,
        role=Message.Role.ASSISTANT,
        content="A reply.",
        status=status,
        experiment_arm=arm,
        time_to_first_token_ms=ttft,
        input_tokens=tokens[0],
        output_tokens=tokens[1],
        cost_usd=cost,
    )


def rate(message, value):
    return MessageRating.objects.create(
        message=message, user=message.conversation.user, value=value
    )


@pytest.fixture
def claude():
    return ProviderFactory(name="Claude", model="anthropic/claude-sonnet-4-20250514")


@pytest.fixture
def gemini():
    return ProviderFactory(name="Gemini", model="gemini/gemini-2.5-flash")


@pytest.fixture
def study(claude, gemini):
    """Two arms with known turns and ratings, an idle third arm, and noise to ignore."""
    users = get_user_model().objects
    u1, u2, u3 = (users.create_user(username=f"u{i}") for i in (1, 2, 3))
    l1 = Lesson.objects.create(title="One", slug="one", is_published=True)
    l2 = Lesson.objects.create(title="Two", slug="two", is_published=True)
    c11, c21, c22, c31 = (
        Conversation.objects.create(user=u, lesson=lesson)
        for u, lesson in ((u1, l1), (u2, l1), (u2, l2), (u3, l1))
    )
    experiment = Experiment.objects.create(name="Tone test", is_active=True)
    arm_a = ExperimentArm.objects.create(experiment=experiment, provider=claude, weight=1)
    arm_b = ExperimentArm.objects.create(experiment=experiment, provider=gemini, weight=3)
    idle = ProviderConfig.objects.create(name="OpenAI", model="openai/gpt-4o-mini")
    arm_idle = ExperimentArm.objects.create(experiment=experiment, provider=idle, weight=1)

    # Arm A: learners u1, u2; 4 turns, 1 error; ratings up, down, up.
    rate(reply(c11, arm_a, ttft=100, tokens=(10, 20), cost=Decimal("0.001")), 1)
    rate(reply(c11, arm_a, ttft=200, tokens=(30, 40), cost=Decimal("0.0025")), -1)
    reply(c21, arm_a, status="error")
    rate(reply(c22, arm_a, ttft=300, tokens=(5, 5), cost=Decimal("0.0005")), 1)
    # A learner's own message is not a turn even if something tagged it.
    Message.objects.create(conversation=c11, role=Message.Role.USER, experiment_arm=arm_a)
    # Arm B: learner u3; 2 turns, none failed; one rating, up.
    rate(reply(c31, arm_b, ttft=1000, tokens=(100, 200), cost=Decimal("0.01")), 1)
    reply(c31, arm_b, status="stopped", ttft=500, tokens=(50, 0), cost=Decimal("0.004"))
    # Refused by the spending guard while u1 was in arm B: its provider never saw these, so
    # they are not its turns, errors or learners (the chat keeps them as it does here).
    c12 = Conversation.objects.create(user=u1, lesson=l2)
    for code in (Message.ErrorCode.BUDGET_EXCEEDED, Message.ErrorCode.DAILY_LIMIT):
        refusal = TurnRefusal.objects.create(
            conversation=c12, code=code, provider=gemini, provider_name=gemini.name
        )
        Message.objects.create(
            conversation=c12,
            role=Message.Role.ASSISTANT,
            status="error",
            error_code=code,
            refusal=refusal,
        )

    # Noise: another experiment's arm, and a reply outside any experiment.
    old = Experiment.objects.create(name="Old test")
    old_arm = ExperimentArm.objects.create(experiment=old, provider=claude)
    rate(reply(c11, old_arm, ttft=9000, tokens=(999, 999), cost=Decimal("9")), -1)
    rate(reply(c31, None, status="error", ttft=9000), -1)
    record_learning(l1, l2, (u1, u2, u3), (arm_a, arm_b, old_arm), (claude, gemini))
    return experiment, arm_a, arm_b, arm_idle


def record_learning(l1, l2, users, arms, providers):
    """Objectives, answers and hints recorded in each arm's replies, and evaluation runs."""
    u1, u2, u3 = users
    arm_a, arm_b, old_arm = arms
    claude, gemini = providers
    stage = Stage.objects.create(lesson=l1, kind=Stage.Kind.CHAT, title="Chat", instructions="x")
    ob1, ob2 = (LearningObjective.objects.create(lesson=l1, text=t) for t in ("one", "two"))
    question = Question.objects.create(stage=stage, prompt="Why?", expected_answer="Air")
    h1, h2 = (Hint.objects.create(question=question, text=t) for t in ("h1", "h2"))

    def in_arm(arm):
        return Message.objects.filter(experiment_arm=arm, role=Message.Role.ASSISTANT).first()

    a, b, old = in_arm(arm_a), in_arm(arm_b), in_arm(old_arm)
    # Arm A (2 learners): 3 objectives met, answers right, wrong, right, 1 hint.
    for user, objective in ((u1, ob1), (u2, ob1), (u1, ob2)):
        ObjectiveRecord.objects.create(user=user, objective=objective, message=a)
    for user, correct in ((u1, True), (u1, False), (u2, True)):
        AnswerRecord.objects.create(user=user, question=question, correct=correct, message=a)
    HintRecord.objects.create(user=u1, hint=h1, message=a)
    # Arm B (1 learner): one wrong answer, 2 hints.
    AnswerRecord.objects.create(user=u3, question=question, correct=False, message=b)
    for hint in (h1, h2):
        HintRecord.objects.create(user=u3, hint=hint, message=b)
    # Noise: a record in another experiment's reply, and one saved without its reply.
    ObjectiveRecord.objects.create(user=u3, objective=ob1, message=old)
    AnswerRecord.objects.create(user=u3, question=question, correct=True, message=None)
    # Claude's latest run per lesson: 0.8 on one (0.5 before), 0.6 on two; Gemini: unscored.
    now = timezone.now()
    for lesson, score, days_ago in ((l1, 0.5, 2), (l1, 0.8, 1), (l2, 0.6, 3)):
        EvalRun.objects.create(
            lesson=lesson, provider=claude, score=score, started_at=now - timedelta(days=days_ago)
        )
    EvalRun.objects.create(lesson=l1, provider=gemini, score=None, started_at=now)


def test_results_page_shows_exact_numbers_per_arm(admin_client, study):
    experiment, arm_a, arm_b, arm_idle = study
    response = admin_client.get(reverse(RESULTS, args=[experiment.pk]))
    assert response.status_code == 200
    html = response.content.decode()
    assert "Results: Tone test" in html
    table = ResultsTable()
    table.feed(html)
    assert list(table.rows) == [arm_a.pk, arm_b.pk, arm_idle.pk]
    assert table.metrics(arm_a.pk) == {
        "provider": "Claude anthropic/claude-sonnet-4-20250514",
        "weight": "1",
        "learners": "2",
        "turns": "4",
        "thumbs_up": "66.7% (2 / 3)",
        "mean_ttft": "200 ms",
        "error_rate": "25.0% (1 / 4)",
        "tokens": "45 / 65",
        "cost": "$0.0040",
        "objectives": "1.50",
        "quiz": "66.7% (2 / 3)",
        "hints": "0.50",
        "eval_score": "70.0% (2 lessons)",
    }
    assert table.metrics(arm_b.pk) == {
        "provider": "Gemini gemini/gemini-2.5-flash",
        "weight": "3",
        "learners": "1",
        "turns": "2",
        "thumbs_up": "100.0% (1 / 1)",
        "mean_ttft": "750 ms",
        "error_rate": "0.0% (0 / 2)",
        "tokens": "150 / 200",
        "cost": "$0.0140",
        "objectives": "0.00",
        "quiz": "0.0% (0 / 1)",
        "hints": "2.00",
        "eval_score": "no runs",
    }
    assert table.metrics(arm_idle.pk) == {
        "provider": "OpenAI openai/gpt-4o-mini",
        "weight": "1",
        "learners": "0",
        "turns": "0",
        "thumbs_up": "no ratings",
        "mean_ttft": "—",
        "error_rate": "—",
        "tokens": "0 / 0",
        "cost": "—",
        "objectives": "—",
        "quiz": "no answers",
        "hints": "—",
        "eval_score": "no runs",
    }


def test_results_page_draws_bars_for_thumbs_up_and_ttft(admin_client, study):
    experiment, *_ = study
    table = ResultsTable()
    table.feed(admin_client.get(reverse(RESULTS, args=[experiment.pk])).content.decode())
    assert table.bars == [
        ("Claude: 66.7% (2 / 3)", "66.7%"),
        ("Gemini: 100.0% (1 / 1)", "100.0%"),
        ("OpenAI: no ratings", "0.0%"),
        # TTFT bars are relative to the slowest arm (750 ms).
        ("Claude: 200 ms", "26.7%"),
        ("Gemini: 750 ms", "100.0%"),
        ("OpenAI: —", "0.0%"),
        ("Claude: 66.7% (2 / 3)", "66.7%"),
        ("Gemini: 0.0% (0 / 1)", "0.0%"),
        ("OpenAI: no answers", "0.0%"),
        # Objectives per learner, relative to the arm with the most (1.5).
        ("Claude: 1.50", "100.0%"),
        ("Gemini: 0.00", "0.0%"),
        ("OpenAI: —", "0.0%"),
        ("Claude: 70.0% (2 lessons)", "70.0%"),
        ("Gemini: no runs", "0.0%"),
        ("OpenAI: no runs", "0.0%"),
    ]


def test_csv_export_has_a_header_and_one_exact_row_per_arm(admin_client, study):
    experiment, arm_a, arm_b, arm_idle = study
    response = admin_client.get(reverse(RESULTS_CSV, args=[experiment.pk]))
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")
    assert 'filename="experiment-tone-test-results.csv"' in response["Content-Disposition"]
    rows = list(csv.reader(io.StringIO(response.content.decode())))
    assert tuple(rows[0]) == CSV_HEADER
    assert rows[1:] == [
        [str(arm_a.pk), "Claude", "anthropic/claude-sonnet-4-20250514", "1", "2", "4", "3", "2",
         "0.6667", "200.0", "1", "0.2500", "45", "65", "0.004000",
         "3", "1.5000", "3", "2", "0.6667", "1", "0.5000", "0.7000", "2"],
        [str(arm_b.pk), "Gemini", "gemini/gemini-2.5-flash", "3", "1", "2", "1", "1",
         "1.0000", "750.0", "0", "0.0000", "150", "200", "0.014000",
         "0", "0.0000", "1", "0", "0.0000", "2", "2.0000", "", "0"],
        [str(arm_idle.pk), "OpenAI", "openai/gpt-4o-mini", "1", "0", "0", "0", "0",
         "", "", "0", "", "0", "0", "",
         "0", "", "0", "0", "", "0", "", "", "0"],
    ]  # fmt: skip


def test_results_take_one_query(study, django_assert_num_queries):
    experiment, *_ = study
    with django_assert_num_queries(1):
        results = arm_results(experiment)
    assert [r.turns for r in results] == [4, 2, 0]


def test_learning_signals_take_five_queries_whatever_the_arms(study, django_assert_num_queries):
    experiment, arm_a, *_ = study
    with django_assert_num_queries(5):  # the arms, three kinds of record, evaluation runs
        signals = learning_signals(experiment)
    assert signals[arm_a.pk].objectives_met == 3


def test_csv_cells_cannot_smuggle_spreadsheet_formulas(admin_client, claude):
    ProviderConfig.objects.filter(pk=claude.pk).update(name="=HYPERLINK(1)")
    experiment = Experiment.objects.create(name="Formula")
    ExperimentArm.objects.create(experiment=experiment, provider=claude)
    response = admin_client.get(reverse(RESULTS_CSV, args=[experiment.pk]))
    rows = list(csv.reader(io.StringIO(response.content.decode())))
    assert rows[1][1] == "'=HYPERLINK(1)"


def test_change_page_and_list_link_to_results(admin_client, study):
    experiment, *_ = study
    results_url = reverse(RESULTS, args=[experiment.pk])
    change = admin_client.get(reverse("admin:llm_app_experiment_change", args=[experiment.pk]))
    changelist = admin_client.get(reverse(CHANGELIST))
    assert change.status_code == 200
    assert changelist.status_code == 200
    assert f'href="{results_url}"' in change.content.decode()
    assert f'href="{results_url}"' in changelist.content.decode()
    results = admin_client.get(results_url).content.decode()
    assert f'href="{reverse(RESULTS_CSV, args=[experiment.pk])}"' in results
    assert "Export CSV" in results


def test_experiment_without_arms_says_so(admin_client):
    experiment = Experiment.objects.create(name="Empty")
    response = admin_client.get(reverse(RESULTS, args=[experiment.pk]))
    assert response.status_code == 200
    assert "has no arms yet" in response.content.decode()


def test_unknown_experiment_is_404(admin_client):
    assert admin_client.get(reverse(RESULTS, args=[999])).status_code == 404
    assert admin_client.get(reverse(RESULTS_CSV, args=[999])).status_code == 404


def test_results_are_staff_only(client, study):
    experiment, *_ = study
    learner = get_user_model().objects.create_user(username="curious")
    client.force_login(learner)
    for name in (RESULTS, RESULTS_CSV):
        response = client.get(reverse(name, args=[experiment.pk]))
        assert response.status_code == 302
        assert "/login/" in response["Location"]


def test_staff_need_view_permission_for_results(client, study):
    experiment, *_ = study
    staff = get_user_model().objects.create_user(username="editor", is_staff=True)
    client.force_login(staff)
    assert client.get(reverse(RESULTS, args=[experiment.pk])).status_code == 403
    assert client.get(reverse(RESULTS_CSV, args=[experiment.pk])).status_code == 403
    staff.user_permissions.add(Permission.objects.get(codename="view_experiment"))
    assert client.get(reverse(RESULTS, args=[experiment.pk])).status_code == 200
