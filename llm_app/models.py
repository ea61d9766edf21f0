"""Provider configurations that staff manage in the admin."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q

from llm_app.fields import EncryptedTextField
from llm_app.validation import validate_extra_params, validate_model_string


class ToolUse(models.TextChoices):
    """Whether the tutor offers this provider its tool (``transition_to_next``).

    Small local models rarely call it, and some servers cannot stream a request
    with tools at all; with ``off`` the request never carries tools and the
    learner moves on with the page's *Next* button, as on every stage.
    """

    AUTO = "auto", "Offer the tool; the model decides"
    OFF = "off", "Never send tools (the learner moves on with Next)"


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
    context_window_tokens = models.PositiveIntegerField(
        "context size (tokens)",
        null=True,
        blank=True,
        validators=[MinValueValidator(256)],
        help_text="How many tokens the model reads at once, prompt and reply together. "
        "Empty: LiteLLM's model information (self-hosted models are not in it: set "
        "llama.cpp's --n_ctx, Ollama's num_ctx or vLLM's --max-model-len here). Older "
        "turns of a long conversation are left out to fit.",
    )
    tool_use = models.CharField(
        "tool use",
        max_length=10,
        choices=ToolUse.choices,
        default=ToolUse.AUTO,
        help_text="Whether the tutor offers the model its move-on tool. Off for models "
        "or servers that cannot use tools (see docs/providers.md).",
    )
    temperature = models.FloatField(
        null=True,
        blank=True,
        validators=[MinValueValidator(0), MaxValueValidator(2)],
        help_text="From 0 to 2 (some providers, such as Anthropic, accept at most 1). "
        "Empty: the provider's default.",
    )
    timeout_seconds = models.PositiveIntegerField(
        "total timeout (seconds)",
        default=60,
        # 0 would silently mean "no limit" to the seam; every call needs one.
        validators=[MinValueValidator(1)],
        help_text="Longest a whole reply may take.",
    )
    connect_timeout_seconds = models.FloatField(
        "connect timeout (seconds)", default=10, validators=[MinValueValidator(0.1)]
    )
    first_token_timeout_seconds = models.FloatField(
        "first-token timeout (seconds)",
        default=30,
        validators=[MinValueValidator(0.1)],
        help_text="Give up (and try the next fallback) if no token has arrived by then.",
    )
    max_retries = models.PositiveSmallIntegerField(
        default=1,
        validators=[MaxValueValidator(5)],
        help_text="Retries of this provider, with backoff, before moving to a fallback.",
    )
    input_cost_per_million_tokens = models.DecimalField(
        "input price (USD per million tokens)",
        max_digits=10,
        decimal_places=4,
        null=True,
        blank=True,
        help_text="Only for models LiteLLM does not price; empty uses LiteLLM's price map.",
    )
    output_cost_per_million_tokens = models.DecimalField(
        "output price (USD per million tokens)",
        max_digits=10,
        decimal_places=4,
        null=True,
        blank=True,
    )
    daily_budget_usd = models.DecimalField(
        "daily budget (USD)",
        max_digits=10,
        decimal_places=2,
        null=True,
        blank=True,
        help_text="Stop using this provider for the rest of the UTC day once spent. Empty: none.",
    )
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


class ProviderFallback(models.Model):
    """One step of a provider's ordered fallback chain."""

    provider = models.ForeignKey(
        ProviderConfig, on_delete=models.CASCADE, related_name="fallback_links"
    )
    fallback = models.ForeignKey(ProviderConfig, on_delete=models.CASCADE, related_name="+")
    position = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["position", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["provider", "fallback"], name="unique_fallback_per_provider"
            ),
            models.CheckConstraint(
                condition=~Q(provider=models.F("fallback")), name="fallback_is_another_provider"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.provider} → {self.fallback}"


class Experiment(models.Model):
    """An A/B test: each learner is assigned one arm (a provider) for good."""

    name = models.CharField(max_length=100, unique=True)
    description = models.TextField(blank=True)
    is_active = models.BooleanField("active", default=False)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-is_active", "name"]
        constraints = [
            models.UniqueConstraint(
                fields=["is_active"],
                condition=Q(is_active=True),
                name="at_most_one_active_experiment",
                violation_error_message="Only one experiment can be active at a time.",
            )
        ]

    def __str__(self) -> str:
        return self.name


class ExperimentArm(models.Model):
    experiment = models.ForeignKey(Experiment, on_delete=models.CASCADE, related_name="arms")
    provider = models.ForeignKey(ProviderConfig, on_delete=models.PROTECT, related_name="arms")
    weight = models.PositiveIntegerField(
        default=1, validators=[MinValueValidator(1)], help_text="Relative share of learners."
    )

    class Meta:
        ordering = ["experiment", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["experiment", "provider"], name="unique_provider_per_experiment"
            ),
            models.CheckConstraint(condition=Q(weight__gte=1), name="arm_weight_positive"),
        ]

    def __str__(self) -> str:
        return f"{self.experiment}: {self.provider} (weight {self.weight})"


class ProviderRevision(models.Model):
    """One row whose token changes with every change to providers, fallbacks or experiments.

    Every process keeps what it resolved for the tutor (``llm_app.providers``) under
    the token it read, and reads the token again for each turn: one small query
    instead of three, and a switch in the admin still reaches the very next
    message in every process. A random token rather than a counter, so a rolled
    back change can never make a later one look already seen.
    """

    token = models.CharField(max_length=32)

    def __str__(self) -> str:
        return self.token
