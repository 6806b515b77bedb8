"""Refund.recorded_at: when the portal recorded a refund as paid back, the period the
accounting export reports it in (a bank transfer is dated by the statement, which may be in a
month already exported). Refunds recorded before: the time of their `refund.succeeded` event,
or their `succeeded_at` when that is later or the event is missing."""

from django.db import migrations, models
from django.db.models import F


def backfill(apps, schema_editor):
    Refund = apps.get_model("refunds", "Refund")
    Event = apps.get_model("soldee", "Event")
    Refund.objects.filter(status="succeeded").update(recorded_at=F("succeeded_at"))
    # Only a bank transfer can be dated before it was recorded; a gateway refund's
    # succeeded_at is the moment it was recorded.
    transfers = Refund.objects.filter(status="succeeded", gateway_ref__startswith="bank-transfer:")
    for pk, succeeded_at in transfers.values_list("pk", "succeeded_at").iterator():
        logged = (
            Event.objects.filter(
                subject_type="refunds.refund", subject_id=str(pk), verb="refund.succeeded"
            )
            .order_by("created_at")
            .values_list("created_at", flat=True)
            .first()
        )
        if logged is not None and logged > succeeded_at:
            Refund.objects.filter(pk=pk).update(recorded_at=logged)


class Migration(migrations.Migration):
    dependencies = [
        ("refunds", "0009_bank_references_upper_cased"),
        ("soldee", "0001_initial"),
    ]

    operations = [
        migrations.AddField(
            model_name="refund",
            name="recorded_at",
            field=models.DateTimeField(blank=True, null=True),
        ),
        migrations.RunPython(backfill, migrations.RunPython.noop),
    ]
