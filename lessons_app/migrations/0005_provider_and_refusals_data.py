"""Replies kept by provider name get their provider; refused replies get a refusal record."""

from django.db import migrations

# The codes of this migration's vocabulary (lessons_app.reply_errors.ReplyErrorCode) as they are now.
KNOWN_CODES = [
    "auth", "rate_limited", "unavailable", "timeout", "bad_request", "empty_response",
    "internal", "budget_exceeded", "daily_limit", "stopped", "interrupted",
]  # fmt: skip
REFUSAL_CODES = ["budget_exceeded", "daily_limit"]


def link_replies_to_their_providers(apps, schema_editor):
    """Budgets and usage were kept by provider name: link each reply to the provider so named."""
    Message = apps.get_model("lessons_app", "Message")
    ProviderConfig = apps.get_model("llm_app", "ProviderConfig")
    for pk, name in ProviderConfig.objects.values_list("pk", "name"):
        Message.objects.filter(role="assistant", provider_name=name).exclude(model="").update(
            provider_id=pk
        )


def record_refusals_apart(apps, schema_editor):
    """A refused turn's reply named the provider that refused it; now its refusal does.

    The reply keeps its status and code (it is what the learner sees) and loses its
    provider, model and experiment arm: no provider was called, so it is nobody's turn.
    """
    Message = apps.get_model("lessons_app", "Message")
    TurnRefusal = apps.get_model("lessons_app", "TurnRefusal")
    refused = Message.objects.filter(role="assistant", error_code__in=REFUSAL_CODES)
    for reply in refused.filter(refusal__isnull=True).iterator():
        reply.refusal = TurnRefusal.objects.create(
            conversation_id=reply.conversation_id,
            code=reply.error_code,
            provider_id=reply.provider_id,
            provider_name=reply.provider_name,
            model=reply.model,
            created_at=reply.created_at,
        )
        reply.provider_id = None
        reply.provider_name = ""
        reply.model = ""
        reply.experiment_arm_id = None
        reply.save(update_fields=["refusal", "provider", "provider_name", "model", "experiment_arm"])


def restore_refused_replies(apps, schema_editor):
    Message = apps.get_model("lessons_app", "Message")
    for reply in Message.objects.filter(refusal__isnull=False).select_related("refusal"):
        reply.provider_id = reply.refusal.provider_id
        reply.provider_name = reply.refusal.provider_name
        reply.model = reply.refusal.model
        reply.save(update_fields=["provider", "provider_name", "model"])


def end_unknown_codes_as_internal(apps, schema_editor):
    """Only these codes were ever written; should another be found, the constraint must hold."""
    Message = apps.get_model("lessons_app", "Message")
    Message.objects.exclude(error_code="").exclude(error_code__in=KNOWN_CODES).update(
        error_code="internal"
    )


class Migration(migrations.Migration):

    dependencies = [
        ('lessons_app', '0004_provider_and_refusals'),
    ]

    operations = [
        migrations.RunPython(link_replies_to_their_providers, migrations.RunPython.noop),
        migrations.RunPython(record_refusals_apart, restore_refused_replies),
        migrations.RunPython(end_unknown_codes_as_internal, migrations.RunPython.noop),
    ]
