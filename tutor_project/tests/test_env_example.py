"""`.env.example` is the reference for configuration: every variable settings read is in it."""

import re

from django.conf import settings

# env("NAME", ...), env.bool("NAME", ...), env.list("NAME", ...) and friends.
ENV_READ = re.compile(r"""\benv(?:\.\w+)?\(\s*["']([A-Z][A-Z0-9_]*)["']""")


def test_every_variable_settings_read_is_documented_in_env_example():
    settings_source = (settings.BASE_DIR / "tutor_project" / "settings.py").read_text()
    example = (settings.BASE_DIR / ".env.example").read_text()
    read = set(ENV_READ.findall(settings_source))
    documented = set(re.findall(r"^#?\s*([A-Z][A-Z0-9_]*)=", example, flags=re.MULTILINE))

    assert {"DEBUG", "SECRET_KEY", "DATABASE_URL", "REDIS_URL"} <= read, "the pattern went stale"
    assert read - documented == set()
    assert "LLM_PROVIDER" in documented
