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
