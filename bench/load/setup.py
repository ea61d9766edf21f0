"""Set up one database for the load benchmark: `python -m bench.load.setup LEARNERS API_BASE OUT`.

Runs in the served app's environment (DATABASE_URL names the database): migrates, loads
the demo lesson, makes the fake OpenAI server at API_BASE the default provider, and
creates LEARNERS learners with a logged-in session each, written straight to the session
table (logging thousands in over HTTP would hash thousands of passwords). OUT gets the
session cookies, one per learner, as JSON.
"""

from __future__ import annotations

import json
import os
import sys
from datetime import timedelta
from importlib import import_module
from pathlib import Path

import django

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tutor_project.settings")
django.setup()

from django.conf import settings  # noqa: E402
from django.contrib.auth import (  # noqa: E402
    BACKEND_SESSION_KEY,
    HASH_SESSION_KEY,
    SESSION_KEY,
    get_user_model,
)
from django.contrib.sessions.models import Session  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.utils import timezone  # noqa: E402
from django.utils.crypto import get_random_string  # noqa: E402

from bench.load.config import API_KEY, MODEL  # noqa: E402
from llm_app.models import ProviderConfig  # noqa: E402
from llm_app.services import make_default  # noqa: E402

AUTH_BACKEND = "django.contrib.auth.backends.ModelBackend"
SESSION_KEY_LENGTH = 32
# Nobody logs in with a password: the sessions are written directly.
UNUSABLE_PASSWORD = "!load-bench"  # noqa: S105


def add_provider(api_base: str) -> None:
    make_default(
        ProviderConfig.objects.create(
            name="Fake OpenAI (load bench)",
            model=MODEL,
            api_base=api_base,
            api_key=API_KEY,
            # A retry would hide a failure behind a second call: errors are counted as they are.
            max_retries=0,
        )
    )


def add_learners(count: int) -> list[str]:
    """``count`` learners, each with a session as if they had logged in; their session keys."""
    users = get_user_model().objects.bulk_create(
        get_user_model()(username=f"load-learner-{n}", password=UNUSABLE_PASSWORD)
        for n in range(count)
    )
    store = import_module(settings.SESSION_ENGINE).SessionStore()
    expires = timezone.now() + timedelta(days=1)
    sessions = [
        Session(
            session_key=get_random_string(SESSION_KEY_LENGTH),
            session_data=store.encode(
                {
                    SESSION_KEY: str(user.pk),
                    BACKEND_SESSION_KEY: AUTH_BACKEND,
                    HASH_SESSION_KEY: user.get_session_auth_hash(),
                }
            ),
            expire_date=expires,
        )
        for user in users
    ]
    Session.objects.bulk_create(sessions, batch_size=500)
    return [session.session_key for session in sessions]


def main(learners: int, api_base: str, out: Path) -> None:
    call_command("migrate", interactive=False, verbosity=0)
    call_command("load_demo", verbosity=0)
    add_provider(api_base)
    keys = add_learners(learners)
    cookies = [f"{settings.SESSION_COOKIE_NAME}={key}" for key in keys]
    out.write_text(json.dumps({"cookies": cookies}))


if __name__ == "__main__":
    main(int(sys.argv[1]), sys.argv[2], Path(sys.argv[3]))
