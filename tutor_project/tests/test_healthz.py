import os

import pytest
from django.conf import settings

from tutor_project.testing.required_services import IN_CI
from tutor_project.views import WORKER_PID_HEADER


@pytest.mark.django_db
def test_healthz_reports_database_turn_engine_and_channel_layer(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {
        "status": "ok",
        "database": "ok",
        "turns": "ok",
        "channel_layer": "ok",
    }
    assert "no-cache" in response["Cache-Control"]


@pytest.mark.django_db
def test_healthz_is_503_when_the_turn_engines_redis_is_down(client, settings):
    settings.TUTOR_TURN_ENGINE = "redis"
    settings.REDIS_URL = "redis://127.0.0.1:9/0"  # nothing listens on the discard port
    response = client.get("/healthz")
    assert response.status_code == 503
    body = response.json()
    assert (body["status"], body["database"]) == ("error", "ok")
    assert body["turns"].startswith("error: ")


@pytest.mark.django_db(transaction=True)
async def test_healthz_stays_200_with_chat_sockets_open(turn_engine, async_client):
    """The chat's sockets no longer hold the channel layer, nor a second event loop."""
    from channels.db import database_sync_to_async

    from lessons_app.tests.chat_helpers import connect, make_lesson, make_user, receive

    user = await database_sync_to_async(make_user)()
    await database_sync_to_async(make_lesson)()
    sockets = []
    for _ in range(2):
        communicator, connected, _ = await connect(user, "plants")
        assert connected
        assert (await receive(communicator))["type"] == "history"
        sockets.append(communicator)
    response = await async_client.get("/healthz")
    assert response.status_code == 200, response.json()
    assert response.json()["turns"] == "ok"
    for communicator in sockets:
        await communicator.disconnect()


@pytest.mark.django_db
def test_healthz_is_503_when_the_channel_layer_is_down(client, settings):
    settings.CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "channels_redis.core.RedisChannelLayer",
            "CONFIG": {"hosts": ["redis://127.0.0.1:9/0"]},
        }
    }
    from channels.layers import channel_layers

    channel_layers.backends.clear()
    try:
        response = client.get("/healthz")
    finally:
        channel_layers.backends.clear()
    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "error"
    assert body["database"] == "ok"
    assert body["channel_layer"].startswith("error")


def test_database_and_channel_layer_follow_the_environment():
    """CI must exercise PostgreSQL and Redis; elsewhere the zero-config defaults apply."""
    database_url = os.environ.get("DATABASE_URL", "")
    redis_url = os.environ.get("REDIS_URL", "")
    if IN_CI:
        assert database_url.startswith("postgres"), ".ci/run must point DATABASE_URL at PostgreSQL"
        assert redis_url.startswith("redis"), ".ci/run must point REDIS_URL at Redis"
    engine = settings.DATABASES["default"]["ENGINE"]
    layer = settings.CHANNEL_LAYERS["default"]["BACKEND"]
    if database_url.startswith("postgres"):
        assert engine == "django.db.backends.postgresql"
    elif not database_url:
        assert engine == "django.db.backends.sqlite3"
    if redis_url:
        assert layer == "channels_redis.core.RedisChannelLayer"
    else:
        assert layer == "channels.layers.InMemoryChannelLayer"


@pytest.mark.django_db
def test_healthz_answers_plain_http_when_other_pages_redirect_to_https(client, settings):
    settings.SECURE_SSL_REDIRECT = True

    assert client.get("/accounts/login/").status_code == 301
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json()["status"] == "ok"


@pytest.mark.django_db
def test_healthz_says_which_worker_process_answered(client):
    """Workers share one port (python -m tutor_project.serve); this tells them apart."""
    assert client.get("/healthz")[WORKER_PID_HEADER] == str(os.getpid())
    assert WORKER_PID_HEADER not in client.get("/accounts/login/")
