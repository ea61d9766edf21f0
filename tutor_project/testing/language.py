"""Every test starts in the site's default language.

Django's active language is per thread (per context under asyncio), and nothing in a test
process resets it: ``LocaleMiddleware`` activates the request's language and leaves it
active, so a test client request in German made every later test in that process read
German texts (seen: the spending guard's wording tests after ``test_languages.py``).
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from django.utils import translation


@pytest.fixture(autouse=True)
def default_language() -> Iterator[None]:
    translation.deactivate()
    yield
    translation.deactivate()
