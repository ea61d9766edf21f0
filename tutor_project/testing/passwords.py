"""A fast password hasher for the test process.

Django's default, PBKDF2 with a million iterations, takes about 0.4 s per user created
with a password or logged in with one, and hundreds of tests do either. Served apps
(``running_app``, ``daphne_server``) run in processes of their own and keep the default.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from django.test.utils import override_settings

FAST_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture(autouse=True, scope="session")
def _fast_password_hashing() -> Iterator[None]:
    with override_settings(PASSWORD_HASHERS=FAST_HASHERS):
        yield
