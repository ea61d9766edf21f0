"""The environment the project is served with outside a developer's `make run`.

Production-like (DEBUG off) on a fresh SQLite file, with the HTTPS-only settings relaxed
for plain http on loopback and static files served from the apps without a collectstatic
manifest. The served app of the browser tests and the served-path benchmark both start
from it. Imports nothing from pytest, so ``bench/`` can use it.
"""

from __future__ import annotations

import os
from pathlib import Path

SETTINGS_VARIABLE = "DJANGO_SETTINGS_MODULE"


def served_env(database: Path, *, secret_key: str, redis_prefix: str) -> dict[str, str]:
    """This process's environment with the settings of a served app on ``database``.

    ``redis_prefix``: the served app's keys in a Redis that other runs may share.
    Without ``DJANGO_SETTINGS_MODULE`` (pytest-django sets it in this process): a user's
    shell has none, so the served commands must name their settings themselves.
    """
    inherited = {name: value for name, value in os.environ.items() if name != SETTINGS_VARIABLE}
    return {
        **inherited,
        "DATABASE_URL": f"sqlite:///{database}",
        "DEBUG": "0",
        "SECRET_KEY": secret_key,
        "ALLOWED_HOSTS": "127.0.0.1,localhost",
        "SECURE_SSL_REDIRECT": "0",
        "SESSION_COOKIE_SECURE": "0",
        "CSRF_COOKIE_SECURE": "0",
        "SECURE_HSTS_SECONDS": "0",
        "WHITENOISE_USE_FINDERS": "1",
        "STATIC_MANIFEST": "0",
        "LITELLM_LOCAL_MODEL_COST_MAP": "True",
        "TUTOR_REDIS_PREFIX": redis_prefix,
        "PYTHONUNBUFFERED": "1",
    }
