"""Refunds that failed before `answer_lost` and the kept gateway reference existed
(0005): mark the ones whose answer may have been lost, and give back the gateway's
reference to the ones the gateway returned while the books refused, so neither can be paid
again by bank transfer (refunds.services.refund_pay_by_bank_transfer)."""

import re

from django.db import migrations

REFUNDED = re.compile(r"^gateway refunded \(([^)]*)\) but recording failed")


def mark(apps, schema_editor):
    Refund = apps.get_model("refunds", "Refund")
    Event = apps.get_model("soldee", "Event")
    unfinished = Refund.objects.filter(status__in=["failed", "executing", "pending"], answer_lost=False)
    for refund in unfinished.iterator():
        changed = []
        found = REFUNDED.match(refund.last_error or "")
        if found and not refund.gateway_ref:
            refund.gateway_ref = found.group(1)[:128]
            changed.append("gateway_ref")
        lost = "outcome unknown" in (refund.last_error or "") or Event.objects.filter(
            verb="refund.gateway_error", subject_type="refunds.refund", subject_id=str(refund.pk)).exists()
        if lost:
            refund.answer_lost = True
            changed.append("answer_lost")
        if changed:
            refund.save(update_fields=changed)


class Migration(migrations.Migration):

    dependencies = [
        ("refunds", "0006_refund_request_withdrawn"),
        ("soldee", "0001_initial"),
    ]

    operations = [migrations.RunPython(mark, migrations.RunPython.noop)]
