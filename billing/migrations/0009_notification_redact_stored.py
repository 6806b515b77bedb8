"""The inbox rows stored before billing 0008 kept the body as received (card token,
payer's name, e-mail, IP): keep its hash, store the fields redacted, as notification_store
now does. Not atomic, in batches of 500 each committed on its own: the webhook keeps
storing notifications while a large inbox is rewritten."""

import hashlib
import json
from urllib.parse import parse_qsl

from django.db import migrations, transaction


def redact_stored(apps, schema_editor):
    from billing.gateways.base import redacted

    IncomingNotification = apps.get_model("billing", "IncomingNotification")
    while True:
        with transaction.atomic():
            rows = list(IncomingNotification.objects.select_for_update().filter(body_sha256="").order_by("pk")[:500])
            for row in rows:
                text = row.body
                try:
                    fields = json.loads(text)
                except ValueError:
                    fields = dict(parse_qsl(text, keep_blank_values=True))
                if not isinstance(fields, dict):
                    fields = {"body": fields}
                row.body_sha256 = hashlib.sha256(text.encode("utf-8")).hexdigest()
                row.body = json.dumps(redacted(fields), ensure_ascii=False, default=str, sort_keys=True)
                row.save(update_fields=["body", "body_sha256"])
        if len(rows) < 500:
            return


class Migration(migrations.Migration):
    atomic = False

    dependencies = [
        ("billing", "0008_notification_redacted"),
    ]

    operations = [migrations.RunPython(redact_stored, migrations.RunPython.noop)]
