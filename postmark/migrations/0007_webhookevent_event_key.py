"""WebhookEvent.event_key: one row per event, whether its webhook came or it was recovered from
the Messages API (postmark.events.identity)."""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("postmark", "0006_settling")]

    operations = [
        migrations.AddField(
            model_name="webhookevent",
            name="event_key",
            field=models.CharField(
                blank=True, editable=False, max_length=64, null=True, unique=True
            ),
        ),
    ]
