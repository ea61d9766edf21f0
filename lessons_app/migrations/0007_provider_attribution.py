"""Replies and refusals share one provider attribution (lessons_app.models.ProviderAttribution).

Its provider foreign key has Django's default reverse names (``message_set``,
``turnrefusal_set``) in place of ``replies`` and ``refusals``: state only, no SQL.
"""

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('lessons_app', '0006_message_error_code_known'),
        ('llm_app', '0003_provider_bounds'),
    ]

    operations = [
        migrations.AlterField(
            model_name='message',
            name='provider',
            field=models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.SET_NULL, to='llm_app.providerconfig'),
        ),
        migrations.AlterField(
            model_name='turnrefusal',
            name='provider',
            field=models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.SET_NULL, to='llm_app.providerconfig'),
        ),
    ]
