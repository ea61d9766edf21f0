"""Provider configurations that staff manage in the admin."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Q

from llm_app.fields import EncryptedTextField


class ProviderConfig(models.Model):
    name = models.CharField(max_length=100, unique=True)
    model = models.CharField(
        max_length=200,
        help_text=(
            "LiteLLM model string, e.g. anthropic/claude-sonnet-4-20250514, "
            "gemini/gemini-2.5-flash, openai/gpt-4o-mini, hosted_vllm/my-model."
        ),
    )
    api_base = models.URLField(
        "API base", max_length=500, blank=True, help_text="Leave empty for the provider's own API."
    )
    api_key = EncryptedTextField(
        "API key",
        blank=True,
        help_text="Stored encrypted and never shown again. Empty: use the provider's "
        "standard environment variable (e.g. ANTHROPIC_API_KEY).",
    )
    max_tokens = models.PositiveIntegerField(default=1024)
    temperature = models.FloatField(null=True, blank=True)
    timeout_seconds = models.PositiveIntegerField(default=60)
    extra_params = models.JSONField(
        default=dict,
        blank=True,
        help_text='Extra LiteLLM keyword arguments as a JSON object, e.g. {"top_p": 0.9}.',
    )
    enabled = models.BooleanField(default=True)
    is_default = models.BooleanField("default", default=False)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]
        verbose_name = "provider"
        constraints = [
            models.UniqueConstraint(
                fields=["is_default"],
                condition=Q(is_default=True),
                name="at_most_one_default_provider",
                violation_error_message="Only one provider can be the default.",
            ),
            models.CheckConstraint(
                condition=Q(is_default=False) | Q(enabled=True),
                name="default_provider_is_enabled",
                violation_error_message="The default provider must be enabled.",
            ),
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def has_api_key(self) -> bool:
        return bool(self.api_key)

    def clean(self) -> None:
        from llm_app.services import validate_extra_params, validate_model_string

        errors = {}
        try:
            validate_model_string(self.model)
        except ValidationError as exc:
            errors["model"] = exc.messages
        try:
            validate_extra_params(self.extra_params)
        except ValidationError as exc:
            errors["extra_params"] = exc.messages
        if errors:
            raise ValidationError(errors)
