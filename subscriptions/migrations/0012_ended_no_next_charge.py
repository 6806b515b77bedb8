"""Ended subscriptions keep no next charge date (subscription_end clears it now): staff
lists of upcoming charges showed subscriptions that will never be charged."""

from django.db import migrations


def clear(apps, schema_editor):
    apps.get_model("subscriptions", "Subscription").objects.filter(status="ended").exclude(
        next_charge_at=None).update(next_charge_at=None)


class Migration(migrations.Migration):
    dependencies = [("subscriptions", "0011_agent_key_last_used")]
    operations = [migrations.RunPython(clear, migrations.RunPython.noop)]
