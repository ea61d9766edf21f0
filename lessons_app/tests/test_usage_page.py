"""The staff usage page: exact numbers for a known dataset, the date range, access, warnings."""

from datetime import UTC, datetime, time, timedelta
from decimal import Decimal

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Permission
from django.urls import reverse

from lessons_app import usage
from lessons_app.models import Conversation, Lesson, Message, TurnRefusal
from lessons_app.tests.chat_helpers import make_user
from lessons_app.tests.factories import StaffFactory
from llm_app.models import ProviderConfig

pytestmark = pytest.mark.django_db

USAGE_URL = "/admin/usage/"
TODAY = usage.utc_today()
YESTERDAY = TODAY - timedelta(days=1)
LONG_AGO = TODAY - timedelta(days=20)


def at_noon(day):
    return datetime.combine(day, time(12), tzinfo=UTC)


def turn(
    lesson,
    day,
    provider,
    *,
    status="complete",
    code="",
    tin=None,
    tout=None,
    cost=None,
    ttft=None,
    model="some/model",
    role=Message.Role.ASSISTANT,
    user=None,
    config=None,
):
    conversation = conversation_of(lesson, user)
    message = Message.objects.create(
        conversation=conversation,
        role=role,
        provider=config,
        provider_name=provider,
        model=model,
        status=status,
        error_code=code,
        input_tokens=tin,
        output_tokens=tout,
        cost_usd=Decimal(cost) if cost is not None else None,
        time_to_first_token_ms=ttft,
    )
    Message.objects.filter(pk=message.pk).update(created_at=at_noon(day))
    return message


def conversation_of(lesson, user=None):
    user = user or get_user_model().objects.get_or_create(username="ada")[0]
    return Conversation.objects.get_or_create(user=user, lesson=lesson)[0]


def refused(lesson, day, provider, *, code, config=None):
    """A turn the spending guard refused, kept as the chat keeps one: the learner's reply
    names no provider or model, its refusal names the provider that would have answered."""
    conversation = conversation_of(lesson)
    refusal = TurnRefusal.objects.create(
        conversation=conversation,
        code=code,
        provider=config,
        provider_name=provider,
        model="some/model",
        created_at=at_noon(day),
    )
    reply = Message.objects.create(
        conversation=conversation,
        role=Message.Role.ASSISTANT,
        status="error",
        error_code=code,
        refusal=refusal,
    )
    Message.objects.filter(pk=reply.pk).update(created_at=at_noon(day))
    return reply


@pytest.fixture
def seeded():
    """Seven assistant rows in range (one refused), plus rows the report must ignore."""
    plants = Lesson.objects.create(title="Plants", slug="plants", is_published=True)
    stars = Lesson.objects.create(title="Stars", slug="stars", is_published=True)
    turn(plants, TODAY, "Claude", tin=100, tout=50, cost="0.010", ttft=100)
    turn(plants, TODAY, "Claude", tin=200, tout=70, cost="0.020", ttft=300)
    turn(stars, TODAY, "Claude", status="error", code="unavailable")
    turn(stars, TODAY, "Gemini", tin=10, tout=5, ttft=1000)  # unpriced
    refused(plants, TODAY, "Claude", code="daily_limit")
    turn(
        plants,
        YESTERDAY,
        "Gemini",
        status="stopped",
        code="stopped",
        tin=20,
        tout=8,
        cost="0.001",
        ttft=500,
    )
    turn(stars, YESTERDAY, "Claude", tin=300, tout=90, cost="0.030", ttft=200)
    # Not turns: an author's opening message and the learner's own messages.
    turn(plants, TODAY, "Lesson author", model="")
    turn(plants, TODAY, "", model="", role=Message.Role.USER)
    # Outside the default range.
    turn(plants, LONG_AGO, "Claude", tin=1000, tout=1000, cost="9", ttft=9000)
    return plants, stars


def summary(row: usage.UsageRow) -> tuple:
    return (
        row.label,
        row.turns,
        row.errors,
        row.refused,
        row.input_tokens,
        row.output_tokens,
        row.cost_usd,
        row.ttft_p50_ms,
        row.ttft_p95_ms,
    )


# --- The numbers ------------------------------------------------------------------


def test_percentiles_interpolate_like_percentile_cont():
    assert usage.percentile([], 0.5) is None
    assert usage.percentile([42], 0.95) == 42
    assert usage.percentile([500, 200], 0.5) == 350
    assert usage.percentile([100, 200, 300, 500, 1000], 0.95) == pytest.approx(900)
    assert usage.percentile([1, 2, 3, 4], 0.5) == 2.5


def test_the_report_adds_up_exactly(seeded):
    report = usage.usage_report(*usage.default_range(TODAY))

    assert summary(report.total) == (
        "All",
        6,
        1,
        1,
        630,
        223,
        Decimal("0.061"),
        300,
        pytest.approx(900),
    )
    assert report.total.error_rate == pytest.approx(1 / 6)

    days = {row.key: row for row in report.by_day}
    assert len(report.by_day) == usage.DEFAULT_DAYS
    assert report.by_day[0].key == TODAY  # newest first
    assert summary(days[TODAY]) == (
        TODAY.isoformat(),
        4,
        1,
        1,
        310,
        125,
        Decimal("0.030"),
        300,
        pytest.approx(930),
    )
    assert summary(days[YESTERDAY]) == (
        YESTERDAY.isoformat(),
        2,
        0,
        0,
        320,
        98,
        Decimal("0.031"),
        350,
        pytest.approx(485),
    )
    quiet_day = days[TODAY - timedelta(days=5)]
    assert (quiet_day.turns, quiet_day.cost_usd, quiet_day.ttft_p50_ms) == (0, None, None)

    assert [summary(row) for row in report.by_provider] == [
        ("Claude", 4, 1, 1, 600, 210, Decimal("0.060"), 200, pytest.approx(290)),
        ("Gemini", 2, 0, 0, 30, 13, Decimal("0.001"), 750, pytest.approx(975)),
    ]
    assert report.by_provider[1].priced_turns == 1

    assert [summary(row) for row in report.by_lesson] == [
        ("Plants", 3, 0, 1, 320, 128, Decimal("0.031"), 300, pytest.approx(480)),
        ("Stars", 3, 1, 0, 310, 95, Decimal("0.030"), 600, pytest.approx(960)),
    ]


def test_an_interrupted_reply_counts_as_an_error_and_a_stopped_one_does_not():
    plants = Lesson.objects.create(title="Plants", slug="plants", is_published=True)
    turn(plants, TODAY, "Claude", status="interrupted", code="interrupted")
    turn(plants, TODAY, "Claude", status="stopped", code="stopped")
    turn(plants, TODAY, "Claude")
    report = usage.usage_report(*usage.default_range(TODAY))
    assert (report.total.turns, report.total.errors) == (3, 1)


def test_a_renamed_provider_keeps_its_history_and_a_deleted_one_its_saved_name():
    plants = Lesson.objects.create(title="Plants", slug="plants", is_published=True)
    claude = ProviderConfig.objects.create(name="Claude", model="a/b")
    gemini = ProviderConfig.objects.create(name="Gemini", model="c/d")
    turn(plants, YESTERDAY, "Claude", config=claude, tin=10, cost="0.010")
    refused(plants, YESTERDAY, "Claude", code="budget_exceeded", config=claude)
    turn(plants, YESTERDAY, "Gemini", config=gemini, tin=20, cost="0.020")
    claude.name = "Claude Sonnet"
    claude.save()
    turn(plants, TODAY, "Claude Sonnet", config=claude, tin=30, cost="0.030")
    gemini.delete()
    # A new provider that takes a deleted one's name starts afresh.
    new_gemini = ProviderConfig.objects.create(name="Gemini", model="e/f")
    turn(plants, TODAY, "Gemini", config=new_gemini, tin=5)

    report = usage.usage_report(*usage.default_range(TODAY))

    rows = {(r.label, r.turns, r.refused, r.input_tokens, r.cost_usd) for r in report.by_provider}
    assert rows == {
        ("Claude Sonnet", 2, 1, 40, Decimal("0.040")),
        ("Gemini", 1, 0, 20, Decimal("0.020")),
        ("Gemini", 1, 0, 5, None),
    }


def test_a_range_counts_only_its_own_days(seeded):
    report = usage.usage_report(LONG_AGO, LONG_AGO)
    assert summary(report.total) == ("All", 1, 0, 0, 1000, 1000, Decimal("9"), 9000, 9000)
    assert [row.key for row in report.by_day] == [LONG_AGO]


# --- The page -------------------------------------------------------------------


@pytest.fixture
def teacher():
    """Staff who may view messages (so the usage page) and providers, but are no superuser."""
    user = StaffFactory(username="teacher")
    user.user_permissions.add(
        *Permission.objects.filter(codename__in=["view_message", "view_providerconfig"])
    )
    return user


@pytest.fixture
def staff_client(client, teacher):
    client.force_login(teacher)
    return client


def _cells(response, table_id: str) -> dict[str, dict[str, str]]:
    """The rendered rows of one table, as label -> {metric: text}."""
    table = next(t for t in response.context["tables"] if t["id"] == table_id)
    return {row["label"]: row for row in table["rows"]}


def test_staff_see_the_numbers_for_the_last_14_days(staff_client, seeded):
    response = staff_client.get(USAGE_URL)

    assert response.status_code == 200
    assert response.context["start"] == TODAY - timedelta(days=13)
    assert response.context["end"] == TODAY
    total = response.context["total"]
    assert (total["turns"], total["errors"], total["refused"]) == (6, "1 (16.7%)", 1)
    assert (total["tokens_in"], total["tokens_out"], total["cost"]) == ("630", "223", "$0.0610")
    assert (total["ttft_p50"], total["ttft_p95"]) == ("300 ms", "900 ms")
    providers = _cells(response, "by-provider")
    assert providers["Gemini"]["ttft_p95"] == "975 ms"
    assert providers["Gemini"]["unpriced"] == 1
    assert _cells(response, "by-lesson")["Stars"]["errors"] == "1 (33.3%)"
    day = _cells(response, "by-day")[TODAY.isoformat()]
    assert (day["turns"], day["ttft_p95"], day["cost"]) == (4, "930 ms", "$0.0300")

    html = response.content.decode()
    assert 'id="usage-by-day"' in html
    assert 'id="usage-by-provider"' in html
    assert 'id="usage-by-lesson"' in html
    assert "Tutor usage" in html
    assert "$0.0610" in html


def test_the_date_range_filter_chooses_the_days(staff_client, seeded):
    response = staff_client.get(USAGE_URL, {"start": LONG_AGO, "end": LONG_AGO})
    assert response.status_code == 200
    assert response.context["total"]["turns"] == 1
    assert response.context["total"]["ttft_p50"] == "9.00 s"
    assert list(_cells(response, "by-day")) == [LONG_AGO.isoformat()]


def test_an_impossible_range_is_explained_and_the_default_shown(staff_client, seeded):
    response = staff_client.get(USAGE_URL, {"start": TODAY, "end": YESTERDAY})
    assert response.status_code == 200
    assert "The start date must not be after the end date." in response.content.decode()
    assert response.context["total"]["turns"] == 6

    too_long = staff_client.get(USAGE_URL, {"start": TODAY - timedelta(days=400), "end": TODAY})
    assert "Choose at most 366 days." in too_long.content.decode()


def test_learners_are_sent_to_the_admin_login(client, seeded):
    client.force_login(make_user("learner"))
    response = client.get(USAGE_URL)
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("admin:login"))


def test_visitors_are_sent_to_the_admin_login(client):
    response = client.get(USAGE_URL)
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("admin:login"))


def test_staff_without_permission_to_view_messages_are_refused(client, seeded):
    client.force_login(make_user("helper", staff=True))
    assert client.get(USAGE_URL).status_code == 403
    assert 'href="/admin/usage/"' not in client.get(reverse("admin:index")).content.decode()


def test_the_admin_index_links_to_the_page(staff_client):
    html = staff_client.get(reverse("admin:index")).content.decode()
    assert 'href="/admin/usage/"' in html
    assert reverse("admin:tutor_usage") == USAGE_URL


# --- Warnings for staff -------------------------------------------------------------


def _spend_today(provider: str, cost: str):
    lesson = Lesson.objects.get_or_create(slug="plants", defaults={"title": "Plants"})[0]
    turn(lesson, TODAY, provider, cost=cost, config=ProviderConfig.objects.get(name=provider))


def test_no_warnings_while_within_budget_and_limit(settings, staff_client):
    settings.TUTOR_DAILY_MESSAGE_LIMIT = 5
    ProviderConfig.objects.create(name="Claude", model="a/b", daily_budget_usd=Decimal("2"))
    _spend_today("Claude", "1.99")
    assert usage.staff_warnings() == []
    response = staff_client.get(reverse("admin:index"))
    assert "daily budget" not in response.content.decode()


def test_a_provider_at_its_budget_is_flagged_on_the_index_provider_list_and_usage_page(
    staff_client,
):
    ProviderConfig.objects.create(name="Claude", model="a/b", daily_budget_usd=Decimal("2"))
    ProviderConfig.objects.create(name="Gemini", model="c/d", daily_budget_usd=Decimal("5"))
    _spend_today("Claude", "1.50")
    _spend_today("Claude", "0.50")
    _spend_today("Gemini", "1")

    [warning] = usage.staff_warnings()
    assert "“Claude” has reached its daily budget ($2.00 of $2.00" in warning

    for url in (reverse("admin:index"), reverse("admin:llm_app_providerconfig_changelist")):
        html = staff_client.get(url).content.decode()
        assert "“Claude” has reached its daily budget" in html, url
        assert '<a href="/admin/usage/">See usage</a>' in html, url
    usage_html = staff_client.get(USAGE_URL).content.decode()
    assert 'id="usage-warnings"' in usage_html
    assert "“Claude” has reached its daily budget" in usage_html


def test_learners_at_the_daily_limit_are_flagged(settings, staff_client, teacher):
    settings.TUTOR_DAILY_MESSAGE_LIMIT = 2
    lesson = Lesson.objects.create(title="Plants", slug="plants")
    for name, sent in (("ada", 2), ("grace", 3), ("alan", 1)):
        learner = make_user(name)
        for _ in range(sent):
            turn(lesson, TODAY, "", model="", role=Message.Role.USER, user=learner)
        turn(lesson, YESTERDAY, "", model="", role=Message.Role.USER, user=learner)
    for _ in range(4):  # staff are never limited, so never counted
        turn(lesson, TODAY, "", model="", role=Message.Role.USER, user=teacher)

    assert usage.learners_at_daily_limit() == 2
    assert usage.staff_warnings() == [
        "2 learners have reached the daily limit of 2 messages today (UTC); "
        "further messages are refused until midnight UTC."
    ]
    assert "2 learners have reached the daily limit" in (
        staff_client.get(reverse("admin:index")).content.decode()
    )
