"""/metrics: Prometheus text for staff or the bearer token, 403 for everyone else."""

import pytest
from prometheus_client.parser import text_string_to_metric_families

from lessons_app import observability
from lessons_app.tests.factories import LearnerFactory, StaffFactory, TurnLogFactory

pytestmark = pytest.mark.django_db

URL = "/metrics"
TOKEN = "scrape-token-for-tests-0123456789"

PROVIDER = "Metrics-View-Provider"


def samples(response) -> dict[tuple[str, tuple], float]:
    """Every sample in a metrics response, keyed by name and sorted labels."""
    text = response.content.decode()
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


@pytest.fixture
def staff_client(client):
    client.force_login(StaffFactory(username="teacher", password="x"))
    return client


def test_staff_read_all_four_metrics_in_prometheus_format(staff_client):
    observability.record_turn(TurnLogFactory(provider=PROVIDER))
    response = staff_client.get(URL)

    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/plain; version=")
    assert "no-cache" in response["Cache-Control"] or "no-store" in response["Cache-Control"]
    names = {family.name for family in text_string_to_metric_families(response.content.decode())}
    assert {
        "tutor_turns",
        "tutor_turn_errors",
        "tutor_time_to_first_token_seconds",
        "tutor_active_sockets",
    } <= names
    # The dedicated registry exports nothing else: no process or Python collectors.
    assert not [name for name in names if not name.startswith("tutor_")]


def test_the_counters_move_between_scrapes(staff_client):
    key_turns = ("tutor_turns_total", (("provider", PROVIDER), ("status", "error")))
    key_errors = ("tutor_turn_errors_total", (("code", "unavailable"),))
    key_ttft = ("tutor_time_to_first_token_seconds_count", ())
    key_sockets = ("tutor_active_sockets", ())
    before = samples(staff_client.get(URL))

    observability.record_turn(
        TurnLogFactory(
            provider=PROVIDER, status="error", error_code="unavailable", time_to_first_token_ms=400
        )
    )
    observability.socket_opened()
    try:
        after = samples(staff_client.get(URL))
    finally:
        observability.socket_closed()

    assert after[key_turns] == before.get(key_turns, 0) + 1
    assert after[key_errors] == before.get(key_errors, 0) + 1
    assert after[key_ttft] == before[key_ttft] + 1
    assert after[key_sockets] == before[key_sockets] + 1


def test_a_scraper_with_the_token_may_read(client, settings):
    settings.METRICS_TOKEN = TOKEN
    response = client.get(URL, headers={"Authorization": f"Bearer {TOKEN}"})
    assert response.status_code == 200
    assert b"tutor_active_sockets" in response.content


@pytest.mark.parametrize(
    "header",
    [None, f"Bearer {TOKEN}x", f"Bearer {TOKEN[:-1]}", f"Basic {TOKEN}", TOKEN, "Bearer "],
)
def test_a_wrong_or_missing_token_is_refused(client, settings, header):
    settings.METRICS_TOKEN = TOKEN
    headers = {"Authorization": header} if header is not None else {}
    response = client.get(URL, headers=headers)
    assert response.status_code == 403
    assert b"tutor_" not in response.content


def test_no_token_configured_means_no_token_is_accepted(client, settings):
    settings.METRICS_TOKEN = ""
    assert client.get(URL, headers={"Authorization": "Bearer "}).status_code == 403
    assert client.get(URL, headers={"Authorization": "Bearer"}).status_code == 403


def test_learners_and_visitors_are_refused(client):
    assert client.get(URL).status_code == 403
    client.force_login(LearnerFactory(username="learner", password="x"))
    assert client.get(URL).status_code == 403


def test_only_get(staff_client):
    assert staff_client.post(URL).status_code == 405
