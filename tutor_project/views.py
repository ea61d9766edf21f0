"""Project-level views that belong to no single app."""

import asyncio

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.db import connection
from django.http import JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

CHANNEL_LAYER_TIMEOUT_SECONDS = 2


def _database_status() -> str:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
    except Exception as exc:  # noqa: BLE001 - any failure means "down"
        return f"error: {type(exc).__name__}"
    return "ok"


async def _round_trip(layer) -> None:
    channel = await layer.new_channel("healthz.")
    await layer.send(channel, {"type": "healthz.ping"})
    await layer.receive(channel)


def _channel_layer_status() -> str:
    layer = get_channel_layer()
    if layer is None:
        return "not configured"
    try:
        async_to_sync(asyncio.wait_for)(_round_trip(layer), CHANNEL_LAYER_TIMEOUT_SECONDS)
    except Exception as exc:  # noqa: BLE001 - any failure means "down"
        return f"error: {type(exc).__name__}"
    return "ok"


@never_cache
@require_GET
def healthz(request):
    """Liveness and readiness for load balancers: 200 only when both backends answer."""
    checks = {"database": _database_status(), "channel_layer": _channel_layer_status()}
    healthy = all(value == "ok" for value in checks.values())
    return JsonResponse(
        {"status": "ok" if healthy else "error", **checks}, status=200 if healthy else 503
    )
