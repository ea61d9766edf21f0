"""``/metrics``: the tutor's Prometheus metrics, for staff or a scraper holding the token.

The numbers are operational (turn counts, error codes, latencies, open
sockets) but still not public: they show how busy and how broken the tutor
is. A logged-in staff session can read them in a browser; Prometheus sends
``Authorization: Bearer <METRICS_TOKEN>``. Without either the answer is 403.
"""

from __future__ import annotations

import hmac

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from lessons_app.observability import REGISTRY

BEARER_PREFIX = "Bearer "


def has_valid_token(request: HttpRequest) -> bool:
    """Whether the request carries ``METRICS_TOKEN``; never true while no token is configured."""
    expected = settings.METRICS_TOKEN
    header = request.headers.get("Authorization", "")
    if not expected or not header.startswith(BEARER_PREFIX):
        return False
    given = header.removeprefix(BEARER_PREFIX).strip()
    return hmac.compare_digest(given.encode(), expected.encode())


def may_read_metrics(request: HttpRequest) -> bool:
    user = getattr(request, "user", None)
    if user is not None and user.is_active and user.is_staff:
        return True
    return has_valid_token(request)


@never_cache
@require_GET
def metrics_view(request: HttpRequest) -> HttpResponse:
    if not may_read_metrics(request):
        return HttpResponse(
            "Metrics are for staff or a bearer token.\n", status=403, content_type="text/plain"
        )
    return HttpResponse(generate_latest(REGISTRY), content_type=CONTENT_TYPE_LATEST)
