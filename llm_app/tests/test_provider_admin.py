import pytest
from django.urls import reverse
from django.utils.html import escape

from llm_app.events import SAFE_ERROR_MESSAGES, ErrorCode
from llm_app.models import ProviderConfig
from llm_app.providers import DEMO_MODEL, ResolvedProvider
from llm_app.testing import Reply
from llm_app.testing.factories import ProviderFactory

pytestmark = pytest.mark.django_db

SECRET = "sk-live-do-not-show-0123456789"


@pytest.fixture
def keyed_provider():
    return ProviderFactory(
        name="Claude", model="anthropic/claude-sonnet-4-20250514", api_key=SECRET
    )


def test_key_never_appears_in_list_or_change_pages(admin_client, keyed_provider):
    changelist = admin_client.get(reverse("admin:llm_app_providerconfig_changelist"))
    change = admin_client.get(
        reverse("admin:llm_app_providerconfig_change", args=[keyed_provider.pk])
    )
    assert changelist.status_code == 200
    assert change.status_code == 200
    for page in (changelist, change):
        html = page.content.decode()
        assert SECRET not in html
        assert "fernet:" not in html
    assert "A key is stored" in change.content.decode()


def change_data(provider: ProviderConfig, **overrides) -> dict:
    data = {
        "name": provider.name,
        "model": provider.model,
        "api_base": provider.api_base,
        "api_key": "",
        "max_tokens": provider.max_tokens,
        "temperature": "",
        "timeout_seconds": provider.timeout_seconds,
        "extra_params": "{}",
        "enabled": "on",
    }
    data.update(overrides)
    return data


def test_saving_without_a_key_keeps_the_stored_key(admin_client, keyed_provider):
    url = reverse("admin:llm_app_providerconfig_change", args=[keyed_provider.pk])
    response = admin_client.post(url, change_data(keyed_provider, max_tokens=2048))
    assert response.status_code == 302
    keyed_provider.refresh_from_db()
    assert keyed_provider.api_key == SECRET
    assert keyed_provider.max_tokens == 2048


def test_a_new_key_replaces_and_clear_removes(admin_client, keyed_provider):
    url = reverse("admin:llm_app_providerconfig_change", args=[keyed_provider.pk])
    admin_client.post(url, change_data(keyed_provider, api_key="sk-new"))
    keyed_provider.refresh_from_db()
    assert keyed_provider.api_key == "sk-new"
    admin_client.post(url, change_data(keyed_provider, clear_api_key="on"))
    keyed_provider.refresh_from_db()
    assert keyed_provider.api_key == ""


def test_the_typed_key_is_hidden_from_django_error_reports(admin_client, keyed_provider):
    from django.views.debug import SafeExceptionReporterFilter

    url = reverse("admin:llm_app_providerconfig_change", args=[keyed_provider.pk])
    response = admin_client.post(url, change_data(keyed_provider, api_key="sk-typed-new-key-42"))

    request = response.wsgi_request
    assert request.sensitive_post_parameters == ("api_key",)
    shown = SafeExceptionReporterFilter().get_post_parameters(request)
    assert "sk-typed-new-key-42" not in str(shown)
    assert shown["name"] == keyed_provider.name


def test_saving_a_model_litellm_does_not_price_warns_to_check_the_name(admin_client):
    add_url = reverse("admin:llm_app_providerconfig_add")
    unknown = ProviderConfig(name="Typo", model="anthropic/claude-sonet-4", timeout_seconds=60)
    known = ProviderConfig(name="Known", model="anthropic/claude-sonnet-4-5", timeout_seconds=60)

    warned = admin_client.post(add_url, change_data(unknown), follow=True).content.decode()
    quiet = admin_client.post(add_url, change_data(known), follow=True).content.decode()

    assert escape("LiteLLM's price map does not know 'anthropic/claude-sonet-4'") in warned
    assert "price map does not know" not in quiet
    assert ProviderConfig.objects.filter(name__in=["Typo", "Known"]).count() == 2


def test_model_typo_is_a_form_error(admin_client):
    response = admin_client.post(
        reverse("admin:llm_app_providerconfig_add"),
        change_data(ProviderConfig(name="Typo", model="antrhopic/claude-3", timeout_seconds=60)),
    )
    assert response.status_code == 200
    assert "Did you mean anthropic/claude-3" in response.content.decode()
    assert not ProviderConfig.objects.exists()


def test_make_default_action_switches(run_admin_action):
    first = ProviderConfig.objects.create(name="A", model="openai/gpt-4o-mini", is_default=True)
    second = ProviderConfig.objects.create(name="B", model="gemini/gemini-2.5-flash")
    response = run_admin_action("make_default", second)
    assert "B is now the default" in response.content.decode()
    first.refresh_from_db()
    second.refresh_from_db()
    assert (first.is_default, second.is_default) == (False, True)


def test_make_default_needs_exactly_one(run_admin_action):
    a = ProviderConfig.objects.create(name="A", model="openai/gpt-4o-mini")
    b = ProviderConfig.objects.create(name="B", model="openai/gpt-4o")
    response = run_admin_action("make_default", a, b)
    assert "Select exactly one" in response.content.decode()
    assert not ProviderConfig.objects.filter(is_default=True).exists()


def test_test_connection_reports_success_with_first_words(run_admin_action):
    demo = ProviderConfig.objects.create(
        name="Demo", model=DEMO_MODEL, extra_params={"word_delay": 0}
    )
    response = run_admin_action("test_connection", demo)
    html = response.content.decode()
    assert "Demo: OK in" in html
    assert "You said: &quot;Reply with one short" in html


def test_test_connection_reports_the_real_cause_without_the_key(run_admin_action, openai_server):
    refused = ProviderConfig.objects.create(
        name="Refused", model="openai/gpt-4o-mini", api_base=openai_server.url, api_key=SECRET
    )
    openai_server.enqueue(Reply.error(401, f"Incorrect API key provided: {SECRET}"))
    response = run_admin_action("test_connection", refused)
    html = response.content.decode()
    assert "Refused: Failed (auth) after" in html
    # Staff read what the provider said (status, type, its words), the key redacted.
    assert "HTTP 401 AuthenticationError: Incorrect API key provided: [redacted]" in html
    assert escape(SAFE_ERROR_MESSAGES[ErrorCode.AUTH]) not in html
    assert SECRET not in html
    # The key did reach the provider: the check really asked it, once.
    assert [call.api_key for call in openai_server.requests] == [SECRET]


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("temperature", "2.5", "less than or equal to 2"),
        ("temperature", "-0.1", "greater than or equal to 0"),
        ("timeout_seconds", "0", "greater than or equal to 1"),
        ("extra_params", '{"api_key": "sk-oops"}', "Keep secrets out of extra parameters"),
        (
            "extra_params",
            '{"extra_headers": {"Authorization": "Bearer sk-oops"}}',
            "Authorization in extra_headers",
        ),
        ("extra_params", '{"timeout": 5}', "with the total timeout field"),
    ],
)
def test_out_of_range_or_secret_values_are_form_errors(
    admin_client, keyed_provider, field, value, message
):
    url = reverse("admin:llm_app_providerconfig_change", args=[keyed_provider.pk])
    response = admin_client.post(url, change_data(keyed_provider, **{field: value}))
    assert response.status_code == 200
    assert message in response.content.decode()
    assert "sk-oops" not in str(ProviderConfig.objects.get(pk=keyed_provider.pk).extra_params)


def test_bounds_themselves_are_accepted(admin_client, keyed_provider):
    url = reverse("admin:llm_app_providerconfig_change", args=[keyed_provider.pk])
    response = admin_client.post(
        url,
        change_data(
            keyed_provider,
            temperature="2",
            timeout_seconds="1",
            first_token_timeout_seconds="0.5",
            extra_params='{"top_p": 0.9, "extra_headers": {"anthropic-beta": "x"}}',
        ),
    )
    assert response.status_code == 302
    keyed_provider.refresh_from_db()
    assert (keyed_provider.temperature, keyed_provider.timeout_seconds) == (2.0, 1)


def test_context_size_and_tool_use_are_set_in_the_form(admin_client, keyed_provider):
    url = reverse("admin:llm_app_providerconfig_change", args=[keyed_provider.pk])
    page = admin_client.get(url).content.decode()
    assert 'name="context_window_tokens"' in page and 'name="tool_use"' in page

    response = admin_client.post(
        url, change_data(keyed_provider, context_window_tokens="2048", tool_use="off")
    )
    assert response.status_code == 302
    keyed_provider.refresh_from_db()
    assert (keyed_provider.context_window_tokens, keyed_provider.tool_use) == (2048, "off")
    resolved = ResolvedProvider.from_config(keyed_provider)
    assert (resolved.context_window_tokens, resolved.uses_tools) == (2048, False)

    # Left out of a later post, the tool setting keeps its value; the size can be cleared.
    admin_client.post(url, change_data(keyed_provider, context_window_tokens=""))
    keyed_provider.refresh_from_db()
    assert (keyed_provider.context_window_tokens, keyed_provider.tool_use) == (None, "off")
