"""Bank references recorded before refund_record_bank_transfer upper-cased them in Python
are upper-cased the same way, so the check and the unique index compare them alike in any
alphabet ("пп 000123" and "ПП 000123": one transfer; found by the review). A reference that
would then equal another refund's is left as it is and printed: one transfer recorded for
two refunds needs a person to look at it."""

from django.db import migrations

PREFIX = "bank-transfer:"


def upper_case(apps, schema_editor):
    Refund = apps.get_model("refunds", "Refund")
    for refund in Refund.objects.filter(gateway_ref__startswith=PREFIX).order_by("pk"):
        normal = PREFIX + refund.gateway_ref[len(PREFIX):].upper()
        if normal == refund.gateway_ref:
            continue
        if Refund.objects.filter(gateway_ref=normal).exclude(pk=refund.pk).exists():
            print(f"\n  refund #{refund.pk}: its bank reference {refund.gateway_ref[len(PREFIX):]!r} is another "
                  "refund's too: left as it is; check whether one transfer was recorded for two refunds")
            continue
        Refund.objects.filter(pk=refund.pk).update(gateway_ref=normal)


class Migration(migrations.Migration):
    dependencies = [("refunds", "0008_refund_bank_reference_once")]
    operations = [migrations.RunPython(upper_case, migrations.RunPython.noop)]
