"""Only the one vocabulary's codes (lessons_app.reply_errors.ReplyErrorCode) are stored."""

from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('lessons_app', '0005_provider_and_refusals_data'),
    ]

    operations = [
        migrations.AddConstraint(
            model_name='message',
            constraint=models.CheckConstraint(condition=models.Q(('error_code', ''), ('error_code__in', ['auth', 'rate_limited', 'unavailable', 'timeout', 'bad_request', 'empty_response', 'internal', 'budget_exceeded', 'daily_limit', 'stopped', 'interrupted']), _connector='OR'), name='message_error_code_known'),
        ),
    ]
