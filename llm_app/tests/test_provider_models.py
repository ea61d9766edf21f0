import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError, connection, transaction

from llm_app.models import ProviderConfig
from llm_app.services import ensure_demo_provider, make_default
from llm_app.validation import validate_extra_params, validate_model_string

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


def field_errors(**fields) -> dict[str, list[str]]:
    """The validation errors ``full_clean`` finds in a provider with ``fields``."""
    fields.setdefault("name", "x")
    fields.setdefault("model", "openai/gpt-4o-mini")
    try:
        ProviderConfig(**fields).full_clean()
    except ValidationError as exc:
        return exc.message_dict
    return {}


@pytest.mark.parametrize("temperature", [None, 0, 0.7, 1, 2])
def test_temperature_within_0_and_2_is_valid(temperature):
    assert field_errors(temperature=temperature) == {}


@pytest.mark.parametrize("temperature", [-0.1, 2.01, 10])
def test_temperature_outside_0_and_2_is_refused(temperature):
    assert list(field_errors(temperature=temperature)) == ["temperature"]


def test_a_total_timeout_of_0_is_refused_rather_than_meaning_no_limit():
    assert list(field_errors(timeout_seconds=0)) == ["timeout_seconds"]
    assert field_errors(timeout_seconds=1) == {}


@pytest.mark.parametrize(
    "extra_params",
    [
        {},
        {"top_p": 0.9, "top_k": 40, "stop": ["\n\n"], "seed": 7},
        {"thinking": {"type": "enabled", "budget_tokens": 1024}},
        {"reasoning_effort": "low", "response_format": {"type": "json_object"}},
        {"stop_token_ids": [2], "skip_special_tokens": True, "prompt_cache_key": "tutor"},
        {"extra_headers": {"anthropic-beta": "prompt-caching-2024-07-31"}, "api_version": "v1"},
        {"word_delay": 0},
    ],
)
def test_legitimate_extra_params_are_accepted(extra_params):
    validate_extra_params(extra_params)


@pytest.mark.parametrize(
    ("extra_params", "named"),
    [
        ({"api_key": "sk-1"}, "api_key"),
        ({"aws_secret_access_key": "x"}, "aws_secret_access_key"),
        ({"azure_ad_token": "x"}, "azure_ad_token"),
        ({"vertex_credentials": "{}"}, "vertex_credentials"),
        ({"Password": "x"}, "Password"),
        ({"extra_headers": {"X-Api-Key": "sk-1"}}, "X-Api-Key in extra_headers"),
        ({"headers": {"authorization": "Bearer sk-1"}}, "authorization in headers"),
    ],
)
def test_secret_looking_extra_params_are_refused(extra_params, named):
    with pytest.raises(ValidationError) as excinfo:
        validate_extra_params(extra_params)
    [message] = excinfo.value.messages
    assert message.startswith("Keep secrets out of extra parameters")
    assert named in message
    assert "API key field" in message
    assert "sk-1" not in message


@pytest.mark.parametrize(
    ("name", "field"),
    [
        ("max_tokens", "max tokens"),
        ("max_completion_tokens", "max tokens"),
        ("temperature", "temperature"),
        ("timeout", "total timeout"),
        ("max_retries", "max retries"),
        ("api_base", "API base"),
        ("base_url", "API base"),
        ("model", "model"),
    ],
)
def test_params_with_their_own_field_point_to_it(name, field):
    with pytest.raises(ValidationError) as excinfo:
        validate_extra_params({name: 1})
    assert excinfo.value.messages == [
        f"Set {name} with the {field} field, not in extra parameters."
    ]


@pytest.mark.parametrize(
    "name", ["messages", "stream", "stream_options", "tools", "litellm_trace_id"]
)
def test_params_the_seam_sets_itself_are_refused(name):
    with pytest.raises(ValidationError) as excinfo:
        validate_extra_params({name: 1})
    assert excinfo.value.messages == [
        f"The tutor sets {name} itself on every call; remove it from extra parameters."
    ]


@pytest.mark.parametrize("extra_params", [[], "top_p", 3])
def test_extra_params_must_be_an_object(extra_params):
    with pytest.raises(ValidationError, match="must be a JSON object"):
        validate_extra_params(extra_params)


def test_extra_headers_must_be_an_object():
    with pytest.raises(ValidationError, match="extra_headers must be a JSON object"):
        validate_extra_params({"extra_headers": ["Authorization: Bearer x"]})
