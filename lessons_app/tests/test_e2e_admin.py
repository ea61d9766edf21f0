"""Staff read the tutor's usage page and an experiment's results in a real browser.

Daphne serves the project with DEBUG off (the ``running_app`` fixture). The test
seeds, through ``manage.py shell`` and the ORM, two providers (one over its daily
budget), an experiment with two arms, learners with conversations in the demo
lesson and tutor replies on two days, some of them rated. Headless Chromium then
logs in to the admin as staff and checks the numbers the pages show against ones
computed here from the seeded turns. A learner is turned away from both pages.
Screenshots go to ``test-artifacts/``.

The server's database is shared with the other browser tests, so nothing here
changes what their learners get: the providers are not the default and the
experiment is never active. Their own turns use the demo tutor today, so the
exact per-lesson and all-turns figures are checked on the earlier day only.
"""

from __future__ import annotations

import csv
import io
import statistics
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from urllib.parse import parse_qs, urlsplit

import pytest

from lessons_app.tests.test_e2e_lesson import DEMO_SLUG, demo_lesson
from tutor_project.testing.running_app import seed_running_app

TIMEOUT_MS = 15_000
VIEWPORT = {"width": 1280, "height": 900}
STAFF = "e2e-admin-staff"
STAFF_PASSWORD = "e2e-admin-staff-password-8821"

# Replies refused by the spending guard never reach a provider (docs/protocol.md).
REFUSAL_CODES = {"budget_exceeded", "daily_limit"}


@dataclass(frozen=True)
class Provider:
    name: str
    model: str
    daily_budget_usd: str | None


PROVIDERS = {
    "claude": Provider("Claude (e2e)", "anthropic/claude-sonnet-4-20250514", "0.02"),
    "gemini": Provider("Gemini (e2e)", "gemini/gemini-2.5-flash", "5.00"),
}
EXPERIMENT = "E2E tutor comparison"
ARM_WEIGHTS = {"claude": 2, "gemini": 1}
# Days before today of the earlier turns: inside the usage page's default 14 days.
EARLIER_DAYS = 3


@dataclass(frozen=True)
class Turn:
    """One tutor reply, after a learner's message; ``day`` is 0 for today, else days ago."""

    learner: str
    provider: str
    day: int = 0
    status: str = "complete"
    error_code: str = ""
    input_tokens: int | None = None
    output_tokens: int | None = None
    cost_usd: str | None = None
    ttft_ms: int | None = None
    rating: int | None = None
    in_experiment: bool = True


def learner(number: int) -> str:
    return f"e2e-admin-learner-{number}"


E = EARLIER_DAYS
TURNS = [
    # The Claude arm: three learners.
    Turn(learner(1), "claude", 0, input_tokens=1200, output_tokens=300, cost_usd="0.008100",
         ttft_ms=900, rating=1),
    Turn(learner(1), "claude", 0, input_tokens=1500, output_tokens=400, cost_usd="0.010500",
         ttft_ms=1100, rating=1),
    Turn(learner(1), "claude", E, status="error", error_code="timeout"),
    Turn(learner(2), "claude", 0, input_tokens=1000, output_tokens=250, cost_usd="0.006800",
         ttft_ms=700, rating=-1),
    Turn(learner(2), "claude", 0, status="error", error_code="unavailable",
         input_tokens=1000, output_tokens=0, cost_usd="0.003000", ttft_ms=2500),
    Turn(learner(3), "claude", E, input_tokens=2000, output_tokens=500, cost_usd="0.013500",
         ttft_ms=1300, rating=1),
    # The Gemini arm: two learners.
    Turn(learner(4), "gemini", 0, input_tokens=900, output_tokens=200, cost_usd="0.000400",
         ttft_ms=400, rating=1),
    Turn(learner(4), "gemini", E, input_tokens=1100, output_tokens=350, cost_usd="0.000600",
         ttft_ms=600, rating=-1),
    Turn(learner(5), "gemini", 0, input_tokens=1000, output_tokens=300, cost_usd="0.000500",
         ttft_ms=500),
    Turn(learner(5), "gemini", 0, status="error", error_code="timeout"),
    # Outside the experiment (it had ended): counted in usage, not in the results.
    Turn(learner(6), "gemini", 0, input_tokens=800, output_tokens=150, cost_usd="0.000300",
         ttft_ms=450, in_experiment=False),
    Turn(learner(6), "claude", 0, status="error", error_code="budget_exceeded",
         in_experiment=False),
]  # fmt: skip

SEED = """
import json
from datetime import timedelta
from decimal import Decimal

from django.contrib.auth import get_user_model
from django.urls import reverse
from django.utils import timezone

from lessons_app.guard import day_start
from lessons_app.models import Conversation, Lesson, Message, MessageRating, TurnRefusal
from llm_app.models import Experiment, ExperimentArm, ProviderConfig

spec = json.loads({spec!r})
User = get_user_model()
User.objects.create_superuser(spec["staff"], "e2e-admin-staff@example.com", spec["password"])
providers = {{
    key: ProviderConfig.objects.create(
        name=p["name"],
        model=p["model"],
        daily_budget_usd=Decimal(p["daily_budget_usd"]) if p["daily_budget_usd"] else None,
        is_default=False,
    )
    for key, p in spec["providers"].items()
}}
# Created inactive and left so: the server's other tests must keep the default tutor.
experiment = Experiment.objects.create(
    name=spec["experiment"], description="Seeded by test_e2e_admin.", is_active=False
)
arms = {{
    key: ExperimentArm.objects.create(experiment=experiment, provider=providers[key], weight=w)
    for key, w in spec["weights"].items()
}}
lesson = Lesson.objects.get(slug=spec["lesson"])
stage = lesson.stages.filter(kind="chat").first()
earlier = day_start(timezone.now()) + timedelta(hours=9)
for index, t in enumerate(spec["turns"]):
    user, _ = User.objects.get_or_create(username=t["learner"])
    conversation, _ = Conversation.objects.get_or_create(user=user, lesson=lesson)
    question = Message.objects.create(
        conversation=conversation, role="user", stage=stage, content=f"Question {{index}}"
    )
    cost = t["cost_usd"]
    provider = providers[t["provider"]]
    # As the chat keeps a refused turn: the reply names nobody, its refusal the provider.
    refused = t["error_code"] in spec["refusal_codes"]
    attribution = (
        {{
            "refusal": TurnRefusal.objects.create(
                conversation=conversation,
                code=t["error_code"],
                provider=provider,
                provider_name=provider.name,
                model=provider.model,
            )
        }}
        if refused
        else {{
            "provider": provider,
            "provider_name": provider.name,
            "model": provider.model,
            "experiment_arm": arms[t["provider"]] if t["in_experiment"] else None,
        }}
    )
    reply = Message.objects.create(
        conversation=conversation,
        role="assistant",
        stage=stage,
        content="" if t["status"] == "error" else f"Answer {{index}}",
        status=t["status"],
        error_code=t["error_code"],
        input_tokens=t["input_tokens"],
        output_tokens=t["output_tokens"],
        cost_usd=Decimal(cost) if cost is not None else None,
        time_to_first_token_ms=t["ttft_ms"],
        **attribution,
    )
    if t["day"]:
        at = earlier - timedelta(days=t["day"]) + timedelta(minutes=index)
        Message.objects.filter(pk=question.pk).update(created_at=at)
        Message.objects.filter(pk=reply.pk).update(created_at=at + timedelta(seconds=20))
        if refused:
            TurnRefusal.objects.filter(pk=reply.refusal_id).update(
                created_at=at + timedelta(seconds=20)
            )
    if t["rating"] is not None:
        MessageRating.objects.create(message=reply, user=user, value=t["rating"])

results_url = reverse("admin:llm_app_experiment_results", args=[experiment.pk])
csv_url = reverse("admin:llm_app_experiment_results_csv", args=[experiment.pk])
print("Experiment results:", results_url, csv_url)
with open(spec["out"], "w") as out:
    json.dump(
        {{
            "results_url": results_url,
            "csv_url": csv_url,
            "arm_ids": {{key: arm.pk for key, arm in arms.items()}},
        }},
        out,
    )
"""


# --- What the pages should show, worked out from TURNS ------------------------------


def format_ms(ms: float | None) -> str:
    if ms is None:
        return "—"
    return f"{ms / 1000:.2f} s" if ms >= 1000 else f"{ms:.0f} ms"


def percent(part: int, whole: int) -> str:
    return f"{100 * part / whole:.1f}%"


def usage_row(turns: list[Turn], label: str) -> dict[str, str]:
    """A row of the usage page: refused replies apart, percentiles by linear interpolation."""
    refused = [t for t in turns if t.error_code in REFUSAL_CODES]
    counted = [t for t in turns if t.error_code not in REFUSAL_CODES]
    errors = sum(t.status == "error" for t in counted)
    priced = [Decimal(t.cost_usd) for t in counted if t.cost_usd is not None]
    ttfts = [t.ttft_ms for t in counted if t.ttft_ms is not None]
    assert len(ttfts) >= 2, "the seeded rows should have a p95 between two values"
    return {
        "label": label,
        "turns": str(len(counted)),
        "errors": f"{errors} ({percent(errors, len(counted))})",
        "refused": str(len(refused)),
        "tokens_in": f"{sum(t.input_tokens or 0 for t in counted):,}",
        "tokens_out": f"{sum(t.output_tokens or 0 for t in counted):,}",
        "cost": f"${sum(priced):,.4f}",
        "unpriced": str(len(counted) - len(priced)),
        "ttft_p50": format_ms(statistics.median(ttfts)),
        "ttft_p95": format_ms(statistics.quantiles(ttfts, n=20, method="inclusive")[18]),
    }


def arm_turns(key: str) -> list[Turn]:
    return [t for t in TURNS if t.in_experiment and t.provider == key]


def arm_row(key: str) -> dict[str, str]:
    """A row of the experiment's results table (no seeded arm turn is a refusal)."""
    turns = arm_turns(key)
    assert not any(t.error_code in REFUSAL_CODES for t in turns)
    rated = [t for t in turns if t.rating is not None]
    up = sum(t.rating == 1 for t in rated)
    errors = sum(t.status == "error" for t in turns)
    ttft = statistics.mean(t.ttft_ms for t in turns if t.ttft_ms is not None)
    provider = PROVIDERS[key]
    return {
        "provider": f"{provider.name}\n{provider.model}",
        "weight": str(ARM_WEIGHTS[key]),
        "learners": str(len({t.learner for t in turns})),
        "turns": str(len(turns)),
        "thumbs_up": f"{percent(up, len(rated))} ({up} / {len(rated)})",
        "mean_ttft": format_ms(ttft),
        "error_rate": f"{percent(errors, len(turns))} ({errors} / {len(turns)})",
        "tokens": (
            f"{sum(t.input_tokens or 0 for t in turns):,} / "
            f"{sum(t.output_tokens or 0 for t in turns):,}"
        ),
        "cost": f"${sum(Decimal(t.cost_usd) for t in turns if t.cost_usd):,.4f}",
        # No tutor records or evaluation runs are seeded: learning signals are zero, or none.
        "objectives": "0.00",
        "quiz": "no answers",
        "hints": "0.00",
        "eval_score": "no runs",
    }


def arm_csv_row(key: str, arm_id: int) -> list[str]:
    turns = arm_turns(key)
    rated = [t for t in turns if t.rating is not None]
    up = sum(t.rating == 1 for t in rated)
    errors = sum(t.status == "error" for t in turns)
    ttfts = [t.ttft_ms for t in turns if t.ttft_ms is not None]
    return [
        str(arm_id),
        PROVIDERS[key].name,
        PROVIDERS[key].model,
        str(ARM_WEIGHTS[key]),
        str(len({t.learner for t in turns})),
        str(len(turns)),
        str(len(rated)),
        str(up),
        f"{up / len(rated):.4f}",
        f"{sum(ttfts) / len(ttfts):.1f}",
        str(errors),
        f"{errors / len(turns):.4f}",
        str(sum(t.input_tokens or 0 for t in turns)),
        str(sum(t.output_tokens or 0 for t in turns)),
        f"{sum(Decimal(t.cost_usd) for t in turns if t.cost_usd):.6f}",
        *("0", "0.0000", "0", "0", "", "0", "0.0000", "", "0"),
    ]


def thumbs_up_share(key: str) -> float:
    rated = [t.rating for t in arm_turns(key) if t.rating is not None]
    return rated.count(1) / len(rated)


def mean_ttft(key: str) -> float:
    return statistics.mean(t.ttft_ms for t in arm_turns(key) if t.ttft_ms is not None)


def budget_warning(key: str) -> str:
    provider = PROVIDERS[key]
    spent = sum(
        Decimal(t.cost_usd) for t in TURNS if t.provider == key and t.day == 0 and t.cost_usd
    )
    budget = Decimal(provider.daily_budget_usd)
    assert spent >= budget, "the seeded turns should put this provider over its budget"
    return (
        f"Provider “{provider.name}” has reached its daily budget "
        f"(${spent:.2f} of ${budget:.2f} spent today, UTC)"
    )


CSV_HEADER = [
    "arm_id", "provider", "model", "weight", "learners", "turns", "rated", "thumbs_up",
    "thumbs_up_rate", "mean_ttft_ms", "errors", "error_rate", "input_tokens",
    "output_tokens", "cost_usd", "objectives_met", "objectives_per_learner", "answers",
    "correct_answers", "quiz_correct_rate", "hints", "hints_per_learner", "eval_score",
    "eval_lessons",
]  # fmt: skip


# --- Browser helpers --------------------------------------------------------------

ROW_JS = """([selector, label]) => {
    const row = [...document.querySelectorAll(selector)].find(
        tr => tr.querySelector('[data-metric="label"]').textContent.trim() === label);
    return row ? Object.fromEntries([...row.querySelectorAll('[data-metric]')].map(
        cell => [cell.dataset.metric, cell.innerText.trim()])) : null;
}"""
ROW_LABELS_JS = """(selector) => [...document.querySelectorAll(selector)].map(
    tr => tr.querySelector('[data-metric="label"]').textContent.trim())"""
ARM_ROW_JS = """(armId) => {
    const row = document.querySelector(`#experiment-results tr[data-arm="${armId}"]`);
    return row ? Object.fromEntries([...row.querySelectorAll('[data-metric]')].map(
        cell => [cell.dataset.metric, cell.innerText.trim()])) : null;
}"""


def usage_cells(page, table: str, label: str) -> dict[str, str] | None:
    return page.evaluate(ROW_JS, [f"#usage-{table} tbody tr", label])


@pytest.fixture(scope="module")
def seeded(running_app_shell, tmp_path_factory) -> dict:
    """The staff user, providers, experiment and turns in the running app's database."""
    spec = {
        "staff": STAFF,
        "password": STAFF_PASSWORD,
        "providers": {key: asdict(p) for key, p in PROVIDERS.items()},
        "experiment": EXPERIMENT,
        "weights": ARM_WEIGHTS,
        "lesson": DEMO_SLUG,
        "turns": [asdict(t) for t in TURNS],
        "refusal_codes": sorted(REFUSAL_CODES),
    }
    directory = tmp_path_factory.mktemp("e2e_admin")
    return seed_running_app(running_app_shell, SEED, spec, directory)


# --- The tests ----------------------------------------------------------------------


@pytest.mark.browser
def test_staff_read_usage_and_experiment_results(local_page, log_in, seeded, artifacts_dir):
    today = datetime.now(UTC).date()
    earlier = (today - timedelta(days=EARLIER_DAYS)).isoformat()
    lesson_title = demo_lesson()["title"]
    warning = budget_warning("claude")
    opened = local_page(viewport=VIEWPORT, timeout_ms=TIMEOUT_MS)
    page = opened.page
    log_in(page, "/admin/login/", STAFF, STAFF_PASSWORD)
    assert urlsplit(page.url).path == "/admin/"

    # --- The admin index warns about the provider over its budget and links to Usage.
    warnings = page.locator("ul.messagelist li.warning").all_inner_texts()
    assert any(text.startswith(warning) for text in warnings), warnings
    assert not any(PROVIDERS["gemini"].name in text for text in warnings), warnings
    with page.expect_navigation():
        page.locator("#content-main").get_by_role("link", name="Usage", exact=True).click()
    assert urlsplit(page.url).path == "/admin/usage/"

    # --- The usage page over the default range (the last 14 days).
    assert page.get_by_role("heading", name="Tutor usage").is_visible()
    page_warnings = page.locator("#usage-warnings li").all_inner_texts()
    assert len(page_warnings) == 1 and page_warnings[0].startswith(warning), page_warnings
    for key, provider in PROVIDERS.items():
        expected = usage_row([t for t in TURNS if t.provider == key], provider.name)
        assert usage_cells(page, "by-provider", provider.name) == expected
    # Fourteen days, newest first; only the seeded turns fall on the earlier day.
    days = page.evaluate(ROW_LABELS_JS, "#usage-by-day tbody tr")
    assert days == [(today - timedelta(days=n)).isoformat() for n in range(14)]
    earlier_turns = [t for t in TURNS if t.day == EARLIER_DAYS]
    assert usage_cells(page, "by-day", earlier) == usage_row(earlier_turns, earlier)
    empty_day = (today - timedelta(days=EARLIER_DAYS + 1)).isoformat()
    assert usage_cells(page, "by-day", empty_day)["turns"] == "0"
    # Today also holds the other browser tests' demo turns: at least the seeded ones.
    todays = usage_cells(page, "by-day", today.isoformat())
    seeded_today = [t for t in TURNS if t.day == 0 and t.error_code not in REFUSAL_CODES]
    assert int(todays["turns"]) >= len(seeded_today)
    assert page.locator("#usage-by-lesson tbody th", has_text=lesson_title).is_visible()
    page.screenshot(path=str(artifacts_dir / "admin-usage.png"), full_page=True)

    # --- Just the earlier day, chosen with the range form: every table is exact.
    page.locator("#id_start").fill(earlier)
    page.locator("#id_end").fill(earlier)
    with page.expect_navigation():
        page.get_by_role("button", name="Show").click()
    assert parse_qs(urlsplit(page.url).query) == {"start": [earlier], "end": [earlier]}
    assert page.evaluate(ROW_LABELS_JS, "#usage-by-day tbody tr") == [earlier]
    assert usage_cells(page, "by-lesson", lesson_title) == usage_row(earlier_turns, lesson_title)
    assert page.evaluate(ROW_LABELS_JS, "#usage-by-provider tbody tr") == [
        PROVIDERS["claude"].name,  # 2 turns
        PROVIDERS["gemini"].name,  # 1 turn
    ]
    assert page.locator('#usage-summary [data-metric="turns"]').inner_text() == str(
        len(earlier_turns)
    )
    page.screenshot(path=str(artifacts_dir / "admin-usage-earlier-day.png"), full_page=True)

    # --- The experiment's results, reached from the experiment list.
    page.goto("/admin/llm_app/experiment/")
    row = page.locator("#result_list tbody tr", has_text=EXPERIMENT)
    assert row.count() == 1
    with page.expect_navigation():
        row.get_by_role("link", name="Results", exact=True).click()
    assert urlsplit(page.url).path == seeded["results_url"]
    assert page.get_by_role("heading", name=f"Results: {EXPERIMENT}").is_visible()
    assert page.get_by_text("Not active").is_visible()
    arm_ids = seeded["arm_ids"]
    shown_arms = page.locator("#experiment-results tbody tr").evaluate_all(
        "rows => rows.map(row => Number(row.dataset.arm))"
    )
    assert shown_arms == sorted(arm_ids.values())
    for key, arm_id in arm_ids.items():
        assert page.evaluate(ARM_ROW_JS, arm_id) == arm_row(key)

    # Five bar charts (thumbs, TTFT, then learning), one bar per arm; the first two are
    # measured: each bar as long as its share of the track.
    charts = page.locator(".experiment-results section.chart")
    assert charts.count() == 5
    expected_bars = {
        "Thumbs-up rate": {
            key: (thumbs_up_share(key), arm_row(key)["thumbs_up"]) for key in arm_ids
        },
        "Mean time to first token": {
            key: (mean_ttft(key) / max(map(mean_ttft, arm_ids)), arm_row(key)["mean_ttft"])
            for key in arm_ids
        },
    }
    for title, bars in expected_bars.items():
        chart = page.locator(f'.experiment-results section.chart[aria-label="{title}"]')
        assert chart.is_visible()
        for key, (share, text) in bars.items():
            name = PROVIDERS[key].name
            svg = chart.get_by_role("img", name=f"{name}: {text}", exact=True)
            assert svg.is_visible()
            track = svg.locator("rect.track").bounding_box()
            bar = svg.locator("rect.bar").bounding_box()
            assert track["width"] > 100 and track["height"] > 5
            assert bar["width"] / track["width"] == pytest.approx(share, abs=0.01), (
                title,
                name,
            )
    page.screenshot(path=str(artifacts_dir / "admin-experiment-results.png"), full_page=True)

    # --- The CSV export, downloaded with the staff session.
    link = page.get_by_role("link", name="Export CSV")
    assert link.get_attribute("href") == seeded["csv_url"]
    response = page.request.get(seeded["csv_url"])
    assert response.status == 200
    assert response.headers["content-type"] == "text/csv; charset=utf-8"
    assert response.headers["content-disposition"] == (
        'attachment; filename="experiment-e2e-tutor-comparison-results.csv"'
    )
    rows = list(csv.reader(io.StringIO(response.text())))
    assert rows == [
        CSV_HEADER,
        *(
            arm_csv_row(key, arm_id)
            for key, arm_id in sorted(arm_ids.items(), key=lambda item: item[1])
        ),
    ]

    opened.close_and_assert_local_and_error_free()


@pytest.mark.browser
def test_learners_cannot_open_the_staff_pages(
    local_page, log_in, running_app_learner, seeded, artifacts_dir
):
    opened = local_page(viewport=VIEWPORT, timeout_ms=TIMEOUT_MS)
    page = opened.page
    pages = ["/admin/usage/", seeded["results_url"], seeded["csv_url"]]
    # Without a session, each one redirects to the admin's login.
    for path in pages:
        response = page.request.get(path, max_redirects=0)
        assert response.status == 302, path
        assert response.headers["location"] == f"/admin/login/?next={path}"

    log_in(page, "/accounts/login/", *running_app_learner)
    assert urlsplit(page.url).path == "/"
    for path in pages:
        response = page.request.get(path, max_redirects=0)
        assert response.status == 302, path
        assert response.headers["location"] == f"/admin/login/?next={path}"
    for path in pages[:2]:
        page.goto(path)
        assert urlsplit(page.url).path == "/admin/login/"
        assert parse_qs(urlsplit(page.url).query) == {"next": [path]}
        assert page.get_by_text(
            f"You are authenticated as {running_app_learner.username}, but are not "
            "authorized to access this page."
        ).is_visible()
        assert page.locator("#usage-by-provider, #experiment-results").count() == 0
        assert page.get_by_text(PROVIDERS["claude"].name).count() == 0
    page.screenshot(path=str(artifacts_dir / "admin-refused-learner.png"))

    opened.close_and_assert_local_and_error_free()
