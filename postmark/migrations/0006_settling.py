"""Settling: what a Message row whose outcome is unknown keeps until it is settled."""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("postmark", "0005_inbound_messages")]

    operations = [
        migrations.AddField(
            model_name="message",
            name="payload",
            field=models.TextField(blank=True, editable=False, verbose_name="request kept to resend"),
        ),
        migrations.AddField(
            model_name="message",
            name="unknown_since",
            field=models.DateTimeField(blank=True, editable=False, null=True),
        ),
        migrations.AddField(
            model_name="message",
            name="resent_at",
            field=models.DateTimeField(blank=True, editable=False, null=True),
        ),
        migrations.AddField(
            model_name="message",
            name="settling_since",
            field=models.DateTimeField(blank=True, editable=False, null=True),
        ),
        migrations.AddField(
            model_name="message",
            name="settlement",
            field=models.CharField(
                blank=True,
                choices=[("found", "found in Postmark"), ("resent", "resent"), ("failed", "failed")],
                editable=False,
                max_length=16,
            ),
        ),
    ]
