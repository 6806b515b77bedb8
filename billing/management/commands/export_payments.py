"""Export payments for accounting: one row per successful payment, and one NEGATIVE row per
refund that reached the customer, for a date range (Almaty dates, both ends included).

A payment or refund is reported in the period the portal recorded it, with the date the
money moved in `value_date`: staff record a bank transfer from the statement (an invoice
paid, a refund paid back) dated perhaps in a month already exported, a gateway's answer can
be reconciled days after the charge, and that month must export the same as before. A
payment recorded late (by more than `billing.models.RECORDED_LATE_AFTER`) has
`recorded_at`; any other was recorded when paid (`paid_at`). A refund's is `recorded_at`
(`succeeded_at` for a row without one). A refund's `method` says how the money moved: a
card payment paid back by bank transfer (the gateway refused the card refund) is
`bank_transfer`, gateway `bank`.

    manage.py export_payments --from 2026-03-01 --to 2026-03-31 [--format csv|xlsx] [--output FILE]

CSV goes to stdout unless --output is given; XLSX needs --output. Rows are read with
.iterator() in chunks and written as they come (XLSX through openpyxl's write-only
workbook), so memory stays flat however many payments there are.
"""

from __future__ import annotations

import csv
import heapq
from datetime import date, datetime, time, timedelta
from decimal import ROUND_HALF_UP, Decimal

from django.core.management.base import BaseCommand, CommandError
from django.db.models import OuterRef, Subquery
from django.db.models.functions import Coalesce

from billing.models import Payment, PaymentDocument
from soldee.business_days import ALMATY
from soldee.money import minor_to_decimal

COLUMNS = [
    "date", "time", "type", "document_number", "reference", "customer_name", "customer_iin_bin",
    "customer_email", "description", "amount", "currency", "amount_kzt", "exchange_rate",
    "exchange_rate_date", "method", "gateway", "gateway_ref", "value_date",
]
CHUNK = 2000


def _parse_date(value: str) -> date:
    try:
        return date.fromisoformat(value)
    except ValueError as exc:
        raise CommandError(f"not a date (YYYY-MM-DD): {value!r}") from exc


def _bounds(first: date, last: date) -> tuple[datetime, datetime]:
    """[start of `first`, start of the day after `last`) in Almaty time."""
    return (datetime.combine(first, time.min, tzinfo=ALMATY),
            datetime.combine(last + timedelta(days=1), time.min, tzinfo=ALMATY))


def _customer(user, snapshot) -> tuple[str, str, str]:
    """Name, IIN/BIN and e-mail as the row's own document printed them (the receipt, the
    refund note: a snapshot at the time), so a later profile edit or an account's deletion
    (which keeps these for accounting on the documents) does not rewrite a past month."""
    if isinstance(snapshot, dict) and snapshot:
        return (snapshot.get("name") or "", snapshot.get("iin_bin") or "", snapshot.get("email") or "")
    profile = getattr(user, "profile", None)
    return (profile.name if profile else "", profile.iin_bin if profile else "", user.email)


def _kzt(amount_minor: int, payment: Payment) -> int:
    """The tenge equivalent of part of a payment, at the payment's own rate (rounded once)."""
    if amount_minor == payment.amount_minor:
        return payment.kzt_amount_minor
    if payment.currency == "KZT":
        return amount_minor
    value = Decimal(amount_minor) * payment.kzt_amount_minor / payment.amount_minor
    return int(value.to_integral_value(rounding=ROUND_HALF_UP))


def payment_rows(start: datetime, end: datetime):
    """Payments RECORDED in [start, end) (`recorded_at`, set only when recorded late; else
    `paid_at`), with the date the money was taken as `value_date`."""
    receipts = PaymentDocument.objects.filter(payment=OuterRef("pk"), doc_type=PaymentDocument.DocType.RECEIPT)
    qs = (Payment.objects.filter(status=Payment.Status.SUCCEEDED)
          .annotate(reported_at=Coalesce("recorded_at", "paid_at"))
          .filter(reported_at__gte=start, reported_at__lt=end)
          .select_related("customer__profile")
          .annotate(receipt_number=Subquery(receipts.values("number")[:1]),
                    printed_customer=Subquery(receipts.values("data__customer")[:1]))
          .order_by("reported_at", "pk"))
    for p in qs.iterator(chunk_size=CHUNK):
        name, iin_bin, email = _customer(p.customer, p.printed_customer)
        yield (p.reported_at, 0, p.pk), {
            "type": "payment", "document_number": p.receipt_number or "", "reference": str(p.public_id),
            "customer_name": name, "customer_iin_bin": iin_bin, "customer_email": email,
            "description": p.description,
            "amount": minor_to_decimal(p.amount_minor, p.currency), "currency": p.currency,
            "amount_kzt": minor_to_decimal(p.kzt_amount_minor, "KZT"),
            "exchange_rate": p.exchange_rate if p.exchange_rate is not None else "",
            "exchange_rate_date": p.exchange_rate_date.isoformat() if p.exchange_rate_date else "",
            "method": p.method, "gateway": p.gateway, "gateway_ref": p.gateway_ref or "",
            "value_date": p.paid_at.astimezone(ALMATY).date().isoformat(),
        }


def refund_rows(start: datetime, end: datetime):
    """Refunds RECORDED in [start, end) (a row without `recorded_at`: its `succeeded_at`),
    with the date the money went back as `value_date`."""
    from refunds.models import BANK_TRANSFER_REF, Refund

    notes = PaymentDocument.objects.filter(doc_type=PaymentDocument.DocType.REFUND_NOTE,
                                           source_ref=OuterRef("idempotency_key"))
    qs = (Refund.objects.filter(status=Refund.Status.SUCCEEDED)
          .annotate(reported_at=Coalesce("recorded_at", "succeeded_at"))
          .filter(reported_at__gte=start, reported_at__lt=end)
          .select_related("payment", "customer__profile")
          .annotate(note_number=Subquery(notes.values("number")[:1]),
                    printed_customer=Subquery(notes.values("data__customer")[:1]))
          .order_by("reported_at", "pk"))
    for r in qs.iterator(chunk_size=CHUNK):
        p = r.payment
        name, iin_bin, email = _customer(r.customer, r.printed_customer)
        if r.gateway_ref.startswith(BANK_TRANSFER_REF):  # paid back by bank transfer, whatever the payment was
            method, gateway = Payment.Method.BANK_TRANSFER.value, "bank"
        else:
            method, gateway = p.method, p.gateway
        yield (r.reported_at, 1, r.pk), {
            "type": "refund", "document_number": r.note_number or "",
            "reference": f"{p.public_id}/refund-{r.pk}",
            "customer_name": name, "customer_iin_bin": iin_bin, "customer_email": email,
            "description": f"Refund: {p.description}",
            "amount": -minor_to_decimal(r.amount_minor, r.currency), "currency": r.currency,
            "amount_kzt": -minor_to_decimal(_kzt(r.amount_minor, p), "KZT"),
            "exchange_rate": p.exchange_rate if p.exchange_rate is not None else "",
            "exchange_rate_date": p.exchange_rate_date.isoformat() if p.exchange_rate_date else "",
            "method": method, "gateway": gateway, "gateway_ref": r.gateway_ref or "",
            "value_date": r.succeeded_at.astimezone(ALMATY).date().isoformat(),
        }


def export_rows(first: date, last: date):
    """Every row of the range, payments and refunds merged in time order."""
    start, end = _bounds(first, last)
    for (moment, _kind, _pk), row in heapq.merge(payment_rows(start, end), refund_rows(start, end),
                                                 key=lambda item: item[0]):
        local = moment.astimezone(ALMATY)
        yield {"date": local.date().isoformat(), "time": local.strftime("%H:%M:%S"), **row}


class Command(BaseCommand):
    help = "Export successful payments and refunds of a date range (Almaty) as CSV or XLSX."

    def add_arguments(self, parser):
        parser.add_argument("--from", dest="first", required=True, help="first day, YYYY-MM-DD (Almaty)")
        parser.add_argument("--to", dest="last", required=True, help="last day, YYYY-MM-DD (Almaty), included")
        parser.add_argument("--format", choices=["csv", "xlsx"], default="csv")
        parser.add_argument("--output", help="file to write (default: stdout for CSV)")

    def handle(self, *args, first, last, format, output, **options):
        first, last = _parse_date(first), _parse_date(last)
        if last < first:
            raise CommandError("--to is before --from")
        rows = export_rows(first, last)
        if format == "xlsx":
            if not output:
                raise CommandError("--format xlsx needs --output FILE")
            count = self._xlsx(rows, output, f"{first:%Y-%m-%d}..{last:%Y-%m-%d}")
        elif output:
            with open(output, "w", newline="", encoding="utf-8-sig") as fh:
                count = self._csv(rows, fh)
        else:
            count = self._csv(rows, self.stdout)  # each row is one write ending in a newline
        if output:
            self.stderr.write(f"{count} rows written to {output}")

    @staticmethod
    def _csv(rows, fh) -> int:
        writer = csv.DictWriter(fh, fieldnames=COLUMNS)
        writer.writeheader()
        count = 0
        for row in rows:
            writer.writerow(row)
            count += 1
        return count

    @staticmethod
    def _xlsx(rows, path: str, title: str) -> int:
        from openpyxl import Workbook

        wb = Workbook(write_only=True)
        ws = wb.create_sheet(title="Payments")
        ws.append(COLUMNS)
        count = 0
        for row in rows:
            ws.append([row[c] for c in COLUMNS])
            count += 1
        wb.properties.title = f"Soldee payments {title}"
        wb.save(path)
        return count
