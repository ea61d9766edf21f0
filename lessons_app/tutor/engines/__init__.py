"""Turn engines: where turns' logs, feeds, stop requests and heartbeats live.

``settings.TUTOR_TURN_ENGINE`` names one: ``memory`` (one process, the default
without Redis) or ``redis`` (any number of processes; the default with
``REDIS_URL``). Both implement :class:`~lessons_app.tutor.engines.base.TurnEngine`.
"""

from __future__ import annotations

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.utils.module_loading import import_string

from lessons_app.tutor.engines.base import TurnEngine

ENGINES = {
    "memory": "lessons_app.tutor.engines.memory.MemoryEngine",
    "redis": "lessons_app.tutor.engines.redis.RedisEngine",
}


def engine_class() -> type[TurnEngine]:
    """The engine class the settings choose."""
    try:
        path = ENGINES[settings.TUTOR_TURN_ENGINE]
    except KeyError:
        raise ImproperlyConfigured(
            f"TUTOR_TURN_ENGINE must be one of {', '.join(ENGINES)}, "
            f"not {settings.TUTOR_TURN_ENGINE!r}."
        ) from None
    return import_string(path)


def check_configuration() -> None:
    """Refuse, with ``ImproperlyConfigured``, to serve with a configuration that cannot work.

    Needs only the settings (no app registry), so a server can call it first thing.
    """
    engine_class().check_configuration()
