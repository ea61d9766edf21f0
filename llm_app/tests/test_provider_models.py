import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError, connection, transaction

from llm_app.models import ProviderConfig
from llm_app.services import ensure_demo_provider, make_default, validate_model_string

pytestmark = pytest.mark.django_db


def make(name: str, **fields) -> ProviderConfig:
    fields.setdefault("model", "openai/gpt-4o-mini")
    return ProviderConfig.objects.create(name=name, **fields)


def test_two_defaults_are_rejected_by_the_database():
    make("first", is_default=True)
    with pytest.raises(IntegrityError), transaction.atomic():
        make("second", is_default=True)


def test_a_disabled_provider_cannot_be_default():
    with pytest.raises(IntegrityError), transaction.atomic():
        make("off", is_default=True, enabled=False)


def test_make_default_switches_atomically():
    first = make("first", is_default=True)
    second = make("second", enabled=False)
    make_default(second)
    assert list(ProviderConfig.objects.filter(is_default=True)) == [second]
    second.refresh_from_db()
    assert second.enabled
    first.refresh_from_db()
    assert not first.is_default


def test_api_key_is_encrypted_at_rest():
    config = make("secret", api_key="sk-test-plaintext-123")
    with connection.cursor() as cursor:
        cursor.execute("SELECT api_key FROM llm_app_providerconfig WHERE id = %s", [config.pk])
        (stored,) = cursor.fetchone()
    assert "sk-test-plaintext-123" not in stored
    assert stored.startswith("fernet:")
    assert ProviderConfig.objects.get(pk=config.pk).api_key == "sk-test-plaintext-123"


def test_key_from_another_secret_reads_as_empty(settings, caplog):
    config = make("rotated", api_key="sk-old")
    settings.FIELD_ENCRYPTION_KEY = "a different key entirely"
    assert ProviderConfig.objects.get(pk=config.pk).api_key == ""
    assert "could not be decrypted" in caplog.text
    assert "sk-old" not in caplog.text


@pytest.mark.parametrize(
    "model",
    [
        "anthropic/claude-sonnet-4-20250514",
        "gemini/gemini-2.5-flash",
        "openai/gpt-4o-mini",
        "hosted_vllm/meta-llama/Llama-3-8B",
        "ollama/llama3",
        "tutor-demo/offline-tutor",
    ],
)
def test_known_model_strings_validate(model):
    validate_model_string(model)


def test_typo_in_provider_gets_a_suggestion():
    with pytest.raises(ValidationError) as excinfo:
        validate_model_string("antropic/claude-sonnet-4-20250514")
    assert "anthropic/claude-sonnet-4-20250514" in excinfo.value.messages[0]


def test_model_without_provider_prefix_is_explained():
    with pytest.raises(ValidationError) as excinfo:
        validate_model_string("gpt-4o")
    assert "provider/model" in excinfo.value.messages[0]


def test_full_clean_validates_model_and_extra_params():
    config = ProviderConfig(name="x", model="gemni/gemini-2.5-flash", extra_params={"api_key": "k"})
    with pytest.raises(ValidationError) as excinfo:
        config.full_clean()
    assert "gemini/gemini-2.5-flash" in str(excinfo.value.message_dict["model"])
    assert "api_key" in str(excinfo.value.message_dict["extra_params"])


def test_ensure_demo_provider_is_idempotent_and_respects_an_existing_default():
    demo = ensure_demo_provider()
    assert demo.is_default
    assert ensure_demo_provider().pk == demo.pk
    assert ProviderConfig.objects.count() == 1

    ProviderConfig.objects.all().delete()
    real = make("real", is_default=True)
    ensure_demo_provider()
    assert list(ProviderConfig.objects.filter(is_default=True)) == [real]
