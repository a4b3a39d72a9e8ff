"""WebhookEvent.event_key: one row per event, whether its webhook came or it was recovered from
the Messages API (postmark.events.identity).

The settling branch adds a 0006 of its own; when both land, the merge renumbers this one 0007 and
makes it follow that one.
"""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("postmark", "0005_inbound_messages")]

    operations = [
        migrations.AddField(
            model_name="webhookevent",
            name="event_key",
            field=models.CharField(
                blank=True, editable=False, max_length=64, null=True, unique=True
            ),
        ),
    ]
