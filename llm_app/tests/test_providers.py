import io

import pytest
from django.core.management import CommandError, call_command

from llm_app.llm import DEFAULT_PROVIDER
from llm_app.models import ProviderConfig
from llm_app.providers import (
    ResolvedProvider,
    UnknownProviderError,
    aresolve_provider,
    resolve_provider,
)
from llm_app.services import make_default
from llm_app.shell import ask

pytestmark = pytest.mark.django_db


def test_no_configuration_falls_back_to_the_environment():
    assert resolve_provider() == ResolvedProvider(model=DEFAULT_PROVIDER)


def test_the_environment_fallback_is_the_llm_provider_setting_at_each_call(settings):
    settings.LLM_PROVIDER = "openai/gpt-4o-mini"
    assert resolve_provider() == ResolvedProvider(model="openai/gpt-4o-mini")


def test_admin_default_wins_over_environment():
    ProviderConfig.objects.create(
        name="Gemini", model="gemini/gemini-2.5-flash", api_key="g-key", is_default=True
    )
    resolved = resolve_provider()
    assert resolved.name == "Gemini"
    assert resolved.model == "gemini/gemini-2.5-flash"
    assert resolved.api_key == "g-key"


def test_explicit_provider_wins_over_admin_default():
    ProviderConfig.objects.create(name="Default", model="openai/gpt-4o-mini", is_default=True)
    ProviderConfig.objects.create(name="Claude", model="anthropic/claude-sonnet-4-20250514")
    assert resolve_provider("Claude").name == "Claude"
    assert resolve_provider("gemini/gemini-2.5-pro").model == "gemini/gemini-2.5-pro"
    explicit = ResolvedProvider(model="openai/gpt-4o")
    assert resolve_provider(explicit) is explicit


def test_a_name_that_is_neither_provider_nor_model_says_what_is_known():
    ProviderConfig.objects.create(name="Claude", model="anthropic/claude-sonnet-4-20250514")

    with pytest.raises(UnknownProviderError) as excinfo:
        resolve_provider("Claud")
    assert "No provider in the admin is named 'Claud'" in str(excinfo.value)
    assert "Write the model as provider/model" in str(excinfo.value)
    assert "Providers in the admin: Claude." in str(excinfo.value)

    with pytest.raises(UnknownProviderError, match="Did you mean anthropic/claude"):
        resolve_provider("antropic/claude-sonnet-4-20250514")


def test_ask_and_llm_chat_refuse_an_unknown_provider_before_calling_anything(monkeypatch):
    monkeypatch.setattr("builtins.input", lambda prompt="": pytest.fail("chat must not start"))

    with pytest.raises(UnknownProviderError):
        ask("Hi", provider="no-such-provider")
    out = io.StringIO()
    with pytest.raises(CommandError, match="No provider in the admin is named 'nope'"):
        call_command("llm_chat", "--provider", "nope", stdout=out)
    assert "Chatting" not in out.getvalue()


def test_switching_the_default_applies_to_the_next_resolution_without_restart():
    claude = ProviderConfig.objects.create(
        name="Claude", model="anthropic/claude-sonnet-4-20250514", is_default=True
    )
    gemini = ProviderConfig.objects.create(name="Gemini", model="gemini/gemini-2.5-flash")
    assert resolve_provider().name == "Claude"
    make_default(gemini)
    assert resolve_provider().name == "Gemini"
    make_default(claude)
    assert resolve_provider().name == "Claude"


@pytest.mark.django_db(transaction=True)
async def test_async_resolution_sees_the_current_default():
    await ProviderConfig.objects.acreate(
        name="Gemini", model="gemini/gemini-2.5-flash", is_default=True
    )
    assert (await aresolve_provider()).name == "Gemini"


def test_a_disabled_provider_is_never_the_resolved_default():
    ProviderConfig.objects.create(name="Off", model="openai/gpt-4o-mini", enabled=False)
    assert resolve_provider().model == DEFAULT_PROVIDER
