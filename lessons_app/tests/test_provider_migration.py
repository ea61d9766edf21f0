"""Migrations 0004-0006: replies kept by name get their provider, refused ones a refusal record."""

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

BEFORE = [("lessons_app", "0003_durable_turns"), ("llm_app", "0003_provider_bounds")]
AFTER = [("lessons_app", "0006_message_error_code_known")]


def migrate(targets):
    executor = MigrationExecutor(connection)
    executor.migrate(targets)
    return executor.loader.project_state(targets).apps


@pytest.fixture
def old_schema():
    apps = migrate(BEFORE)
    yield apps
    migrate(MigrationExecutor(connection).loader.graph.leaf_nodes())


@pytest.mark.django_db(transaction=True)
def test_replies_get_their_provider_and_refused_ones_a_refusal(old_schema):
    apps = old_schema
    user = apps.get_model("auth", "User").objects.create(username="ada")
    lesson = apps.get_model("lessons_app", "Lesson").objects.create(title="Plants", slug="plants")
    conversation = apps.get_model("lessons_app", "Conversation").objects.create(
        user=user, lesson=lesson
    )
    claude = apps.get_model("llm_app", "ProviderConfig").objects.create(name="Claude", model="a/b")
    Message = apps.get_model("lessons_app", "Message")

    def reply(provider_name, model, **fields):
        return Message.objects.create(
            conversation=conversation,
            role="assistant",
            provider_name=provider_name,
            model=model,
            **fields,
        ).pk

    answered = reply("Claude", "a/b", cost_usd="0.01")
    refused = reply("Claude", "a/b", status="error", error_code="daily_limit")
    unnamed = reply("openai/gpt-4o", "openai/gpt-4o")
    authored = reply("Lesson author", "")

    apps = migrate(AFTER)
    Message = apps.get_model("lessons_app", "Message")
    rows = {row.pk: row for row in Message.objects.select_related("refusal")}

    assert (rows[answered].provider_id, rows[answered].provider_name) == (claude.pk, "Claude")
    assert rows[unnamed].provider_id is None
    assert (rows[authored].provider_id, rows[authored].provider_name) == (None, "Lesson author")
    refused_row = rows[refused]
    assert (refused_row.status, refused_row.error_code) == ("error", "daily_limit")
    assert (refused_row.provider_id, refused_row.provider_name, refused_row.model) == (None, "", "")
    refusal = refused_row.refusal
    assert (refusal.code, refusal.provider_id, refusal.provider_name, refusal.model) == (
        "daily_limit",
        claude.pk,
        "Claude",
        "a/b",
    )
    assert refusal.created_at == refused_row.created_at
