from django import forms
from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest

from llm_app import services
from llm_app.models import ProviderConfig


class ProviderConfigForm(forms.ModelForm):
    """Treats the API key as write-only: never rendered, kept unless replaced or cleared."""

    api_base = forms.URLField(
        label="API base",
        required=False,
        assume_scheme="https",
        help_text=ProviderConfig._meta.get_field("api_base").help_text,
    )
    api_key = forms.CharField(
        label="API key",
        required=False,
        strip=True,
        widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "new-password"}),
        help_text=ProviderConfig._meta.get_field("api_key").help_text,
    )
    clear_api_key = forms.BooleanField(
        label="Remove the stored API key", required=False, help_text="Use the environment instead."
    )

    class Meta:
        model = ProviderConfig
        fields = [
            "name",
            "model",
            "api_base",
            "api_key",
            "clear_api_key",
            "max_tokens",
            "temperature",
            "timeout_seconds",
            "extra_params",
            "enabled",
        ]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.initial.pop("api_key", None)
        if self.instance.pk and self.instance.has_api_key:
            self.fields[
                "api_key"
            ].help_text = (
                "A key is stored. Leave empty to keep it, or type a new one to replace it."
            )

    def clean_api_key(self) -> str:
        new_key = self.cleaned_data.get("api_key", "")
        if new_key:
            return new_key
        if self.instance.pk and not self.data.get("clear_api_key"):
            return ProviderConfig.objects.get(pk=self.instance.pk).api_key
        return ""


@admin.register(ProviderConfig)
class ProviderConfigAdmin(admin.ModelAdmin):
    form = ProviderConfigForm
    list_display = [
        "name",
        "model",
        "is_default",
        "enabled",
        "key_set",
        "api_base",
        "updated_at",
    ]
    list_filter = ["is_default", "enabled"]
    search_fields = ["name", "model", "api_base"]
    readonly_fields = ["is_default", "created_at", "updated_at"]
    actions = ["make_default", "test_connection"]

    @admin.display(boolean=True, description="Key set")
    def key_set(self, obj: ProviderConfig) -> bool:
        return obj.has_api_key

    def get_fields(self, request, obj=None):
        fields = [f for f in super().get_fields(request, obj) if f not in self.readonly_fields]
        if obj is None or not obj.has_api_key:
            fields.remove("clear_api_key")
        return [*fields, *self.readonly_fields]

    @admin.action(description="Make default")
    def make_default(self, request: HttpRequest, queryset: QuerySet[ProviderConfig]) -> None:
        if queryset.count() != 1:
            self.message_user(
                request, "Select exactly one provider to make default.", messages.ERROR
            )
            return
        config = queryset.get()
        services.make_default(config)
        self.message_user(
            request,
            f"{config.name} is now the default; the next message uses it.",
            messages.SUCCESS,
        )

    @admin.action(description="Test connection")
    def test_connection(self, request: HttpRequest, queryset: QuerySet[ProviderConfig]) -> None:
        for config in queryset:
            result = services.check_provider(config)
            level = messages.SUCCESS if result.ok else messages.ERROR
            self.message_user(request, f"{config.name}: {result.summary()}", level)

# Registered in their own modules to keep this file about providers.
from llm_app import admin_experiments  # noqa: E402, F401
