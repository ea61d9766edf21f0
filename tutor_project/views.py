"""Project-level views that belong to no single app."""

import asyncio
import os

from asgiref.sync import sync_to_async
from channels.layers import get_channel_layer
from django.db import connection
from django.http import HttpRequest, HttpResponseRedirect, JsonResponse
from django.templatetags.static import static
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from lessons_app.tutor.runtime import engine_health

CHANNEL_LAYER_TIMEOUT_SECONDS = 2
# Which server process answered: tells apart the workers that share one port
# (python -m tutor_project.serve). On /healthz only, which no page links to.
WORKER_PID_HEADER = "Tutor-Worker-Pid"


def _database_status() -> str:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
    except Exception as exc:  # noqa: BLE001 - any failure means "down"
        return f"error: {type(exc).__name__}"
    return "ok"


async def _channel_layer_status() -> str:
    layer = get_channel_layer()
    if layer is None:
        return "not configured"
    try:
        async with asyncio.timeout(CHANNEL_LAYER_TIMEOUT_SECONDS):
            channel = await layer.new_channel("healthz.")
            await layer.send(channel, {"type": "healthz.ping"})
            await layer.receive(channel)
    except Exception as exc:  # noqa: BLE001 - any failure means "down"
        return f"error: {type(exc).__name__}"
    return "ok"


async def _turns_status() -> str:
    try:
        return await engine_health()
    except Exception as exc:  # noqa: BLE001 - any failure means "down"
        return f"error: {type(exc).__name__}"


@never_cache
@require_GET
async def healthz(request):
    """Liveness and readiness for load balancers: 200 only when every backend answers.

    Async, so it runs on the server's event loop beside the chat sockets, never on a
    second loop of its own (channels-redis refuses two loops receiving at once). The
    ``Tutor-Worker-Pid`` header says which worker process answered.
    """
    checks = {
        "database": await sync_to_async(_database_status)(),
        "turns": await _turns_status(),
        "channel_layer": await _channel_layer_status(),
    }
    healthy = all(value == "ok" for value in checks.values())
    response = JsonResponse(
        {"status": "ok" if healthy else "error", **checks}, status=200 if healthy else 503
    )
    response[WORKER_PID_HEADER] = str(os.getpid())
    return response


# Browsers ask every site for /favicon.ico, the admin's pages included (the learner pages
# name the icon in a link tag): this answers instead of a 404. Not a permanent redirect:
# the static address changes with the file (hashed names in production).
FAVICON_STATIC_PATH = "lessons/favicon.svg"


@require_GET
def favicon(request: HttpRequest) -> HttpResponseRedirect:
    return HttpResponseRedirect(static(FAVICON_STATIC_PATH))
