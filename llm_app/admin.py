from adminsortable2.admin import SortableAdminBase, SortableTabularInline
from django import forms
from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils.decorators import method_decorator
from django.views.decorators.debug import sensitive_post_parameters, sensitive_variables

from llm_app import services
from llm_app.models import ProviderConfig, ProviderFallback
from llm_app.providers import ResolvedProvider
from llm_app.seam.pricing import is_priced

RESILIENCE_HELP = (
    "A learner's message goes to this provider first. If it fails before the first word of "
    "the reply (rate limit, overload, server error, timeout, refused connection), it is tried "
    "again up to “max retries” times with a growing pause, then the fallbacks listed at the "
    "bottom of this page are tried in order, each with its own settings. An authentication or "
    "request error skips the retries and goes straight to the next fallback. Once the first "
    "word has reached the learner, a failure ends the reply with an error: a reply is never "
    "stitched together from two models. Only this provider's own fallbacks are used: a "
    "fallback's fallbacks are not followed. Disabled fallbacks are skipped."
)
COST_HELP = (
    "Costs come from LiteLLM's bundled price map. For a model it does not price (self-hosted, "
    "new or proxied models), set both prices here; they then take precedence over the map, "
    "and every input token (cached or not) is charged at the input price. Enter 0 for a free "
    "model, so its replies show a cost of 0 rather than none."
)
FALLBACK_HELP = "Tried in this order (drag to reorder) when the provider above fails."
# The form's fields that hold a key (the typed one); error reports show them as stars.
SENSITIVE_FORM_FIELDS = ("api_key",)
# Fields with a database default that a form may leave empty: empty keeps the current value.
_DEFAULTED_FIELDS = (
    "connect_timeout_seconds",
    "first_token_timeout_seconds",
    "max_retries",
    "tool_use",
)


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
            "context_window_tokens",
            "tool_use",
            "temperature",
            "timeout_seconds",
            "connect_timeout_seconds",
            "first_token_timeout_seconds",
            "max_retries",
            "input_cost_per_million_tokens",
            "output_cost_per_million_tokens",
            "daily_budget_usd",
            "extra_params",
            "enabled",
        ]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        for name in _DEFAULTED_FIELDS:
            field = self.fields[name]
            field.required = False
            field.help_text = " ".join(
                filter(
                    None,
                    [
                        field.help_text,
                        "Left empty, it keeps its current value (the default for a new provider).",
                    ],
                )
            )
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

    def clean(self) -> dict:
        cleaned = super().clean()
        for name in _DEFAULTED_FIELDS:
            if cleaned.get(name) in (None, ""):
                # The instance holds the current value, or the model default on a new row.
                cleaned[name] = getattr(self.instance, name)
        prices = [
            cleaned.get("input_cost_per_million_tokens"),
            cleaned.get("output_cost_per_million_tokens"),
        ]
        if prices.count(None) == 1:
            self.add_error(
                "output_cost_per_million_tokens"
                if prices[1] is None
                else "input_cost_per_million_tokens",
                "Set both prices, or neither to use LiteLLM's price map.",
            )
        total = cleaned.get("timeout_seconds")
        first_token = cleaned.get("first_token_timeout_seconds")
        if total and first_token and first_token > total:
            self.add_error(
                "first_token_timeout_seconds",
                "The first token cannot be given longer than the whole reply (total timeout).",
            )
        return cleaned


class ProviderFallbackInline(SortableTabularInline):
    model = ProviderFallback
    fk_name = "provider"
    fields = ["fallback", "fallback_model", "fallback_enabled"]
    readonly_fields = ["fallback_model", "fallback_enabled"]
    extra = 0
    verbose_name = "fallback"
    verbose_name_plural = "fallbacks, in the order they are tried"

    @admin.display(description="Model")
    def fallback_model(self, link: ProviderFallback) -> str:
        return link.fallback.model if link.fallback_id else "—"

    @admin.display(boolean=True, description="Enabled")
    def fallback_enabled(self, link: ProviderFallback) -> bool | None:
        return link.fallback.enabled if link.fallback_id else None

    def formfield_for_foreignkey(self, db_field, request: HttpRequest, **kwargs):
        field = super().formfield_for_foreignkey(db_field, request, **kwargs)
        if db_field.name == "fallback":
            field.help_text = FALLBACK_HELP
            object_id = (
                request.resolver_match.kwargs.get("object_id") if request.resolver_match else None
            )
            if object_id is not None:
                # A provider cannot fall back to itself (a database constraint too).
                field.queryset = field.queryset.exclude(pk=object_id)
        return field


@admin.register(ProviderConfig)
class ProviderConfigAdmin(SortableAdminBase, admin.ModelAdmin):
    form = ProviderConfigForm
    inlines = [ProviderFallbackInline]
    list_display = [
        "name",
        "model",
        "is_default",
        "enabled",
        "key_set",
        "fallback_chain",
        "api_base",
        "updated_at",
    ]
    list_filter = ["is_default", "enabled"]
    search_fields = ["name", "model", "api_base"]
    readonly_fields = ["is_default", "created_at", "updated_at"]
    actions = ["make_default", "test_connection"]
    fieldsets = [
        (None, {"fields": ["name", "model", "api_base", "api_key", "clear_api_key", "enabled"]}),
        (
            "Replies",
            {
                "fields": [
                    "max_tokens",
                    "context_window_tokens",
                    "tool_use",
                    "temperature",
                    "extra_params",
                ]
            },
        ),
        (
            "Fallbacks, retries and timeouts",
            {
                "fields": [
                    "timeout_seconds",
                    "connect_timeout_seconds",
                    "first_token_timeout_seconds",
                    "max_retries",
                ],
                "description": RESILIENCE_HELP,
            },
        ),
        (
            "Cost",
            {
                "fields": [
                    "input_cost_per_million_tokens",
                    "output_cost_per_million_tokens",
                    "daily_budget_usd",
                ],
                "description": COST_HELP,
            },
        ),
        ("Status", {"fields": ["is_default", "created_at", "updated_at"]}),
    ]

    def get_queryset(self, request: HttpRequest) -> QuerySet[ProviderConfig]:
        return super().get_queryset(request).prefetch_related("fallback_links__fallback")

    # Django's error reports (a 500 while saving, say) then show the typed key as stars,
    # and no variable of any frame below: the form's data and the stored key are in some.
    # The filter is on with DEBUG too (tutor_project/error_reports.py).
    @method_decorator(sensitive_post_parameters(*SENSITIVE_FORM_FIELDS))
    @method_decorator(sensitive_variables())
    def changeform_view(self, request: HttpRequest, *args, **kwargs):
        return super().changeform_view(request, *args, **kwargs)

    # Its actions (Test connection) call the provider with the stored key.
    @method_decorator(sensitive_variables())
    def changelist_view(self, request: HttpRequest, extra_context=None):
        return super().changelist_view(request, extra_context)

    def save_model(self, request: HttpRequest, obj: ProviderConfig, form, change: bool) -> None:
        super().save_model(request, obj, form, change)
        resolved = ResolvedProvider.from_config(obj, with_fallbacks=False)
        if not (resolved.is_demo or is_priced(resolved)):
            # The prefix was validated; the model name after it can only be checked here.
            self.message_user(
                request,
                f"LiteLLM's price map does not know {obj.model!r}. Check the model name "
                "(“Test connection” tries it); if it is right, set its prices so replies "
                "show a cost (0 for a free model).",
                messages.WARNING,
            )

    @admin.display(boolean=True, description="Key set")
    def key_set(self, obj: ProviderConfig) -> bool:
        return obj.has_api_key

    @admin.display(description="Fallbacks")
    def fallback_chain(self, obj: ProviderConfig) -> str:
        """The chain as a turn would try it; disabled fallbacks are shown but marked."""
        names = [
            link.fallback.name if link.fallback.enabled else f"{link.fallback.name} (disabled)"
            for link in obj.fallback_links.all()
        ]
        return " → ".join(names) if names else "—"

    def get_fieldsets(self, request: HttpRequest, obj: ProviderConfig | None = None):
        if obj is not None and obj.has_api_key:
            return self.fieldsets
        return [
            (title, {**options, "fields": [f for f in options["fields"] if f != "clear_api_key"]})
            for title, options in self.fieldsets
        ]

    def get_inline_instances(self, request: HttpRequest, obj: ProviderConfig | None = None):
        inlines = super().get_inline_instances(request, obj)
        if request.method != "POST":
            return inlines
        # A POST without the fallback table (a script, or a test that posts only the provider's
        # own fields) leaves the chain as it is instead of failing on the missing formset.
        return [
            inline
            for inline in inlines
            if f"{inline.get_formset(request, obj).get_default_prefix()}-TOTAL_FORMS"
            in request.POST
        ]

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
