"""The developer tools: `shell.ask`, `manage.py llm_check` and `manage.py llm_chat`."""

import io

import pytest
from django.core.management import CommandError, call_command

from llm_app.models import ProviderConfig
from llm_app.shell import LLMError, ask
from llm_app.testing.factories import DemoProviderFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def demo():
    return DemoProviderFactory(is_default=True)


def test_ask_streams_to_the_terminal_and_returns_the_text(demo, capsys):
    text = ask("Explain recursion", provider="Demo")
    printed = capsys.readouterr().out
    assert "Explain recursion" in text
    assert printed.strip() == text.strip()


def test_ask_raises_a_safe_error(capsys):
    ProviderConfig.objects.create(
        name="Nowhere", model="openai/gpt-4o-mini", api_base="http://127.0.0.1:9", api_key="sk-x"
    )
    with pytest.raises(LLMError) as excinfo:
        ask("Hi", provider="Nowhere")
    assert excinfo.value.code == "unavailable"
    assert "sk-x" not in str(excinfo.value)


def test_llm_check_reports_each_provider(demo):
    out = io.StringIO()
    call_command("llm_check", stdout=out)
    assert "Demo (default) [tutor-demo/offline-tutor]: OK in" in out.getvalue()


def test_llm_check_fails_loudly_for_a_broken_provider(demo):
    ProviderConfig.objects.create(
        name="Broken", model="openai/gpt-4o-mini", api_base="http://127.0.0.1:9", api_key="sk-x"
    )
    out = io.StringIO()
    with pytest.raises(CommandError, match="1 of 2 provider"):
        call_command("llm_check", stdout=out)
    assert "Broken [openai/gpt-4o-mini]: Failed (unavailable)" in out.getvalue()


def test_llm_check_unknown_name_lists_the_known_ones(demo):
    with pytest.raises(CommandError, match="Known providers: Demo"):
        call_command("llm_check", "Missing")


def test_llm_chat_keeps_history_between_turns(demo, monkeypatch):
    answers = iter(["Hello there", "What about loops?", ""])
    monkeypatch.setattr("builtins.input", lambda prompt="": next(answers))
    out = io.StringIO()
    call_command("llm_chat", stdout=out)
    transcript = out.getvalue()
    assert "Chatting with Demo" in transcript
    assert 'You said: "What about loops?"' in transcript


def test_llm_check_names_a_missing_key_without_asking_again(demo, openai_server, monkeypatch):
    # openai/ with an api_base and no key anywhere: the SDK refuses before sending.
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    ProviderConfig.objects.create(
        name="Keyless", model="openai/local-model", api_base=openai_server.url, max_retries=3
    )
    out = io.StringIO()
    with pytest.raises(CommandError):
        call_command("llm_check", "Keyless", stdout=out)
    line = out.getvalue()
    assert "Keyless [openai/local-model]: Failed (configuration)" in line
    assert line.rstrip().endswith("no API key configured for this provider")
    assert openai_server.requests == []


def test_llm_check_calls_a_wrong_api_base_path_a_configuration_error(demo, openai_server):
    ProviderConfig.objects.create(
        name="Wrong path",
        model="openai/gpt-4o-mini",
        api_base=openai_server.root_url + "/api",
        api_key="sk-wrong-path-0123456789",
    )
    out = io.StringIO()
    with pytest.raises(CommandError):
        call_command("llm_check", "Wrong path", stdout=out)
    line = out.getvalue()
    assert "Failed (configuration)" in line
    assert "HTTP 404 NotFoundError:" in line and "/api/chat/completions" in line
    assert "sk-wrong-path-0123456789" not in line
    assert "rephrase" not in line


def test_ask_max_tokens_beats_the_admin_providers(openai_server, capsys):
    ProviderConfig.objects.create(
        name="Long",
        model="openai/gpt-4o-mini",
        api_base=openai_server.url,
        api_key="sk-long-0123456789",
        max_tokens=900,
    )
    ask("Hi", provider="Long", max_tokens=7)
    ask("Hi", provider="Long")
    assert [call.max_tokens for call in openai_server.requests] == [7, 900]
