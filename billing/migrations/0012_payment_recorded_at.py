"""Payment.recorded_at: when the portal recorded a payment as paid, set only when that was
later than its `paid_at` by more than billing.models.RECORDED_LATE_AFTER (an invoice marked
paid from the bank statement, a gateway's answer reconciled late). The accounting export
reports a payment in the period it was recorded, so a payment dated into a month already
exported does not change that month. Payments recorded before: the time of their
`payment.succeeded` event, when that is later than `paid_at` by more than the tolerance;
NULL (recorded when paid) otherwise, or when the event is missing."""

from datetime import timedelta

from django.db import migrations, models
from django.db.models import F, OuterRef, Subquery
from django.db.models.functions import Cast

# billing.models.RECORDED_LATE_AFTER when this was written (a migration keeps its own value).
RECORDED_LATE_AFTER = timedelta(minutes=10)


def backfill(apps, schema_editor):
    Payment = apps.get_model("billing", "Payment")
    Event = apps.get_model("soldee", "Event")
    logged = (
        Event.objects.filter(
            subject_type="billing.payment",
            subject_id=Cast(OuterRef("pk"), models.CharField(max_length=64)),
            verb="payment.succeeded",
        )
        .order_by("created_at")
        .values("created_at")[:1]
    )
    # Recording a payment writes its row: one recorded late was updated at least that late.
    # A cheap first cut on the row itself, so the event log is read for few payments, not
    # for every renewal.
    candidates = (
        Payment.objects.filter(
            status="succeeded",
            recorded_at__isnull=True,
            updated_at__gt=F("paid_at") + RECORDED_LATE_AFTER,
        )
        .annotate(logged=Subquery(logged))
        .values_list("pk", "paid_at", "logged")
    )
    for pk, paid_at, at in candidates.iterator(chunk_size=2000):
        if at is not None and at - paid_at > RECORDED_LATE_AFTER:
            Payment.objects.filter(pk=pk).update(recorded_at=at)


class Migration(migrations.Migration):
    # Not atomic: the column is added (instant, nullable) and committed at once, so the lock it
    # takes is not held while the backfill reads the payments; each row's update commits on
    # its own. Checkout and renewals go on meanwhile.
    atomic = False

    dependencies = [
        ("billing", "0011_exchangerate_source_demo"),
        ("soldee", "0001_initial"),
    ]

    operations = [
        migrations.AddField(
            model_name="payment",
            name="recorded_at",
            field=models.DateTimeField(blank=True, null=True),
        ),
        migrations.RunPython(backfill, migrations.RunPython.noop),
    ]
