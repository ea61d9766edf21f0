"""The spending guard: daily provider budgets and the per-learner daily message limit."""

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from channels.db import database_sync_to_async
from django.db import DatabaseError

from lessons_app import guard, observability
from lessons_app.guard import check_turn_allowed
from lessons_app.models import Conversation, Message, TurnRefusal
from lessons_app.tests.chat_helpers import connect, make_lesson, make_user, receive, send
from lessons_app.tests.factories import LearnerFactory
from llm_app.models import ProviderConfig
from llm_app.providers import ResolvedProvider
from llm_app.testing.factories import DemoProviderFactory, ProviderFactory

NOW = datetime(2025, 3, 14, 20, 40, tzinfo=UTC)
YESTERDAY = NOW - timedelta(days=1)
CLAUDE = ResolvedProvider(model="anthropic/claude-sonnet-4-20250514", name="Claude")


def add_message(user, lesson, *, role=Message.Role.ASSISTANT, at=NOW, provider="Claude", cost=None):
    """A message; a reply is from the admin provider of that name, if there is one."""
    conversation, _ = Conversation.objects.get_or_create(user=user, lesson=lesson)
    is_reply = role == Message.Role.ASSISTANT
    message = Message.objects.create(
        conversation=conversation,
        role=role,
        provider=ProviderConfig.objects.filter(name=provider).first() if is_reply else None,
        provider_name=provider if is_reply else "",
        model="anthropic/claude-sonnet-4-20250514" if is_reply else "",
        cost_usd=cost,
    )
    Message.objects.filter(pk=message.pk).update(created_at=at)
    return message


@pytest.fixture
def learner(db):
    return LearnerFactory(username="ada")


@pytest.fixture
def lesson(db):
    return make_lesson()


@pytest.fixture
def claude_config(db):
    return ProviderFactory(name="Claude", model=CLAUDE.model, daily_budget_usd=Decimal("1.00"))


@pytest.fixture
def claude(claude_config):
    """The admin's Claude as a turn resolves it."""
    return ResolvedProvider.from_config(claude_config)


# --- Budgets --------------------------------------------------------------------


def test_a_provider_without_a_budget_is_never_refused(learner, lesson):
    claude = ResolvedProvider.from_config(
        ProviderConfig.objects.create(name="Claude", model=CLAUDE.model)
    )
    add_message(learner, lesson, cost=Decimal("999"))
    assert check_turn_allowed(learner, claude, now=NOW) is None


def test_spending_below_the_budget_today_is_allowed(learner, lesson, claude):
    add_message(learner, lesson, cost=Decimal("0.60"))
    add_message(learner, lesson, cost=Decimal("0.39"))
    add_message(learner, lesson, cost=None)  # unpriced replies count as nothing
    assert check_turn_allowed(learner, claude, now=NOW) is None


def test_reaching_the_budget_today_refuses_the_turn(learner, lesson, claude):
    add_message(learner, lesson, cost=Decimal("0.60"))
    add_message(make_user("grace"), lesson, cost=Decimal("0.40"))  # any learner's spending counts

    refusal = check_turn_allowed(learner, claude, now=NOW)

    assert refusal is not None
    assert refusal.code == Message.ErrorCode.BUDGET_EXCEEDED == "budget_exceeded"
    assert "today's budget" in refusal.message
    assert "midnight UTC, in about 3 hours 20 minutes" in refusal.message
    # The learner is told nothing about prices or providers.
    assert "Claude" not in refusal.message
    assert "$" not in refusal.message


def test_only_today_and_only_this_provider_count_towards_its_budget(learner, lesson, claude):
    ProviderConfig.objects.create(name="Gemini", model="gemini/gemini-2.5-flash")
    add_message(learner, lesson, at=YESTERDAY, cost=Decimal("5"))
    add_message(learner, lesson, at=NOW.replace(hour=0, minute=0) - timedelta(seconds=1), cost=5)
    add_message(learner, lesson, provider="Gemini", cost=Decimal("5"))
    add_message(learner, lesson, at=NOW.replace(hour=0, minute=0), cost=Decimal("0.99"))
    assert check_turn_allowed(learner, claude, now=NOW) is None

    add_message(learner, lesson, cost=Decimal("0.01"))
    assert check_turn_allowed(learner, claude, now=NOW).code == Message.ErrorCode.BUDGET_EXCEEDED


def test_a_renamed_provider_keeps_what_it_spent_today(learner, lesson, claude_config):
    add_message(learner, lesson, cost=Decimal("1.00"))
    claude_config.name = "Claude Sonnet"
    claude_config.save()
    # Another provider taking the old name does not inherit the spending.
    fresh = ProviderConfig.objects.create(name="Claude", model=CLAUDE.model, daily_budget_usd=1)

    renamed = ResolvedProvider.from_config(claude_config)
    assert check_turn_allowed(learner, renamed, now=NOW).code == Message.ErrorCode.BUDGET_EXCEEDED
    assert check_turn_allowed(learner, ResolvedProvider.from_config(fresh), now=NOW) is None


def test_a_budget_of_zero_switches_the_provider_off_for_the_day(learner, lesson):
    claude = ResolvedProvider.from_config(
        ProviderConfig.objects.create(name="Claude", model=CLAUDE.model, daily_budget_usd=0)
    )
    assert check_turn_allowed(learner, claude, now=NOW).code == Message.ErrorCode.BUDGET_EXCEEDED


def test_an_environment_provider_has_no_budget(learner, lesson, claude_config):
    add_message(learner, lesson, provider=CLAUDE.model, cost=Decimal("50"))
    unnamed = ResolvedProvider(model=CLAUDE.model)
    assert check_turn_allowed(learner, unnamed, now=NOW) is None


# --- Daily message limit ------------------------------------------------------------


def test_no_limit_by_default(settings, learner, lesson):
    settings.TUTOR_DAILY_MESSAGE_LIMIT = 0
    for _ in range(30):
        add_message(learner, lesson, role=Message.Role.USER)
    assert check_turn_allowed(learner, CLAUDE, now=NOW) is None


def test_the_limit_lets_the_last_allowed_message_through_and_refuses_the_next(
    settings, learner, lesson
):
    settings.TUTOR_DAILY_MESSAGE_LIMIT = 3
    add_message(learner, lesson, role=Message.Role.USER, at=YESTERDAY)
    add_message(make_user("grace"), lesson, role=Message.Role.USER)
    for _ in range(3):
        add_message(learner, lesson, role=Message.Role.USER)
    # Replies do not count: the limit is on what the learner sends.
    add_message(learner, lesson)
    assert check_turn_allowed(learner, CLAUDE, now=NOW) is None

    add_message(learner, lesson, role=Message.Role.USER)
    refusal = check_turn_allowed(learner, CLAUDE, now=NOW)

    assert refusal is not None
    assert refusal.code == Message.ErrorCode.DAILY_LIMIT == "daily_limit"
    assert "today's 3 messages" in refusal.message
    assert "after midnight UTC, in about 3 hours 20 minutes" in refusal.message


def test_staff_are_not_limited(settings, lesson):
    settings.TUTOR_DAILY_MESSAGE_LIMIT = 1
    teacher = make_user("teacher", staff=True)
    for _ in range(5):
        add_message(teacher, lesson, role=Message.Role.USER)
    assert check_turn_allowed(teacher, CLAUDE, now=NOW) is None


def test_the_reset_wording_never_says_zero_minutes():
    just_before_midnight = NOW.replace(hour=23, minute=59, second=50)
    assert "in about 1 minute." in guard.budget_message(just_before_midnight)
    assert "in about 1 hour." in guard.budget_message(NOW.replace(hour=23, minute=0))


# --- Never a crash ---------------------------------------------------------------


def test_a_database_error_lets_the_turn_run_and_is_logged(
    monkeypatch, caplog, learner, lesson, claude
):
    def broken(*args, **kwargs):
        raise DatabaseError("connection lost")

    monkeypatch.setattr(guard, "spent_today", broken)
    with caplog.at_level("ERROR", logger="lessons_app.guard"):
        assert check_turn_allowed(learner, claude, now=NOW) is None
    assert "Spending guard failed" in caplog.text


# --- Through the chat socket --------------------------------------------------------


def _demo_default_with_budget(budget: str) -> ProviderConfig:
    return DemoProviderFactory(is_default=True, daily_budget_usd=Decimal(budget))


async def _open_chat(user):
    communicator, connected, _ = await connect(user, "plants")
    assert connected
    assert (await receive(communicator))["type"] == "history"
    return communicator


async def _send_and_collect(communicator, content: str) -> list[dict]:
    await send(communicator, {"type": "message", "content": content})
    frames = [await receive(communicator)]
    while frames[-1]["type"] not in ("done", "error"):
        frames.append(await receive(communicator))
    return frames


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("turn_runtime")
async def test_the_learner_over_the_limit_gets_one_friendly_error_and_the_row_records_it(
    settings,
):
    settings.TUTOR_DAILY_MESSAGE_LIMIT = 1
    user = await database_sync_to_async(make_user)()
    await database_sync_to_async(make_lesson)()
    await database_sync_to_async(_demo_default_with_budget)("100")
    communicator = await _open_chat(user)

    first = await _send_and_collect(communicator, "Where does a tree's mass come from?")
    assert first[-1]["type"] == "done"

    second = await _send_and_collect(communicator, "And the water?")
    await communicator.disconnect()

    assert [f["type"] for f in second] == ["message", "reply", "error"]
    error = second[-1]
    assert error["code"] == "daily_limit"
    assert error["retryable"] is False
    assert "daily limit" in error["message"]
    reply = await Message.objects.select_related("refusal").aget(pk=second[1]["message"]["id"])
    assert (reply.status, reply.error_code, reply.content) == ("error", "daily_limit", "")
    # The refusal is recorded apart: the reply is no provider's turn.
    assert (reply.provider_id, reply.provider_name, reply.model) == (None, "", "")
    assert (reply.refusal.code, reply.refusal.provider_name) == ("daily_limit", "Demo")
    assert await TurnRefusal.objects.acount() == 1


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("turn_runtime")
async def test_a_provider_over_its_budget_refuses_before_calling_the_model(monkeypatch):
    recorded = []
    monkeypatch.setattr(observability, "record_turn", recorded.append)
    user = await database_sync_to_async(make_user)()
    lesson = await database_sync_to_async(make_lesson)()
    await database_sync_to_async(_demo_default_with_budget)("0.50")
    await database_sync_to_async(add_message)(
        user, lesson, provider="Demo", at=datetime.now(UTC), cost=Decimal("0.50")
    )
    communicator = await _open_chat(user)

    frames = await _send_and_collect(communicator, "Hello?")
    await communicator.disconnect()

    assert [f["type"] for f in frames] == ["message", "reply", "error"]
    assert frames[-1]["code"] == "budget_exceeded"
    assert not [f for f in frames if f["type"] == "text"]
    # A refused turn is logged and counted like any other.
    [record] = recorded
    assert (record.provider, record.status, record.error_code) == (
        "Demo",
        "error",
        "budget_exceeded",
    )
