"""Reminders sent before reminded_price_minor existed: the price they stated is taken to
be the plan's price now (a renewal reminder goes out at most RENEWAL_REMINDER_DAYS before
the charge), so a raise right after this release does not reach them either."""

from django.db import migrations
from django.db.models import F, OuterRef, Subquery


def backfill(apps, schema_editor):
    Subscription = apps.get_model("subscriptions", "Subscription")
    Plan = apps.get_model("plans", "Plan")
    Subscription.objects.filter(
        reminder_sent_for=F("current_period_end"), reminded_price_minor__isnull=True,
        status__in=["active", "past_due"],
    ).update(reminded_price_minor=Subquery(Plan.objects.filter(pk=OuterRef("plan_id")).values("price_minor")[:1]))


class Migration(migrations.Migration):
    dependencies = [
        ("subscriptions", "0007_agent_credential"),
        ("plans", "0001_initial"),
    ]

    operations = [migrations.RunPython(backfill, migrations.RunPython.noop)]
