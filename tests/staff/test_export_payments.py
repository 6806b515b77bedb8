"""manage.py export_payments: successful payments and (negative) refunds of an Almaty date
range, as CSV or XLSX."""

import csv
import io
from datetime import date, datetime
from decimal import Decimal

import pytest
from django.core.management import CommandError, call_command

from billing.models import Payment, PaymentDocument
from refunds.models import Refund, RefundRequest
from soldee.business_days import ALMATY
from tests.factories import VALID_BIN, ProfileFactory

pytestmark = pytest.mark.django_db


def at(y, m, d, hh=12, mm=0):
    return datetime(y, m, d, hh, mm, tzinfo=ALMATY)


def pay(customer, key, *, paid_at, amount=2_990_000, currency="KZT", kzt=None, status="succeeded", **extra):
    return Payment.objects.create(
        customer=customer, purpose="subscription.checkout", description="Soldee — Start, 30 days",
        amount_minor=amount, currency=currency, kzt_amount_minor=kzt or amount, status=status,
        idempotency_key=key, gateway="sandbox", gateway_ref=f"gw-{key}",
        paid_at=paid_at if status == "succeeded" else None, **extra)


@pytest.fixture
def march(db):
    kz = ProfileFactory(name="ТОО Ромашка", iin_bin=VALID_BIN, kind="legal_entity").user
    foreign = ProfileFactory(name="John Smith", is_resident=False, country="US").user
    first = pay(kz, "p1", paid_at=at(2026, 3, 1, 0, 10))  # 28 Feb 19:10 UTC: still 1 March in Almaty
    PaymentDocument.objects.create(doc_type="receipt", number="R-2026-000001", year=2026, seq=1, customer=kz,
                                   payment=first, amount_minor=first.amount_minor)
    usd = pay(foreign, "p2", paid_at=at(2026, 3, 5), amount=6_000, currency="USD", kzt=3_000_000,
              exchange_rate=Decimal("500.000000"), exchange_rate_date=date(2026, 3, 5),
              exchange_rate_source="nbk", method="saved_card")
    pay(kz, "p3-failed", paid_at=None, status="failed")
    pay(kz, "p4-april", paid_at=at(2026, 4, 1, 0, 30))  # 31 March 19:30 UTC: April in Almaty
    pay(kz, "p5-feb", paid_at=at(2026, 2, 28, 23, 50))
    request = RefundRequest.objects.create(customer=foreign, payment=usd, ground="late", explanation="x",
                                           status="approved", decided_at=at(2026, 3, 10))
    refund = Refund.objects.create(request=request, payment=usd, customer=foreign, amount_minor=2_001,
                                   currency="USD", is_full=False, status="succeeded", succeeded_at=at(2026, 3, 10),
                                   idempotency_key="refund:usd:1", gateway_ref="gw-refund-1")
    PaymentDocument.objects.create(doc_type="refund_note", number="RN-2026-000001", year=2026, seq=1,
                                   customer=foreign, payment=usd, amount_minor=2_001, currency="USD",
                                   source_ref=refund.idempotency_key)
    return first, usd, refund


def export_csv(*args) -> list[dict]:
    out = io.StringIO()
    call_command("export_payments", *args, stdout=out)
    return list(csv.DictReader(io.StringIO(out.getvalue())))


def test_csv_has_one_row_per_payment_and_negative_refunds(march):
    first, usd, refund = march
    rows = export_csv("--from", "2026-03-01", "--to", "2026-03-31")
    assert [(r["type"], r["reference"]) for r in rows] == [
        ("payment", str(first.public_id)), ("payment", str(usd.public_id)),
        ("refund", f"{usd.public_id}/refund-{refund.pk}")]
    kz, foreign, back = rows
    assert kz["date"] == "2026-03-01" and kz["time"] == "00:10:00"
    assert (kz["customer_name"], kz["customer_iin_bin"], kz["document_number"]) == (
        "ТОО Ромашка", VALID_BIN, "R-2026-000001")
    assert (kz["amount"], kz["currency"], kz["amount_kzt"], kz["exchange_rate"]) == ("29900.00", "KZT", "29900.00", "")
    assert (foreign["amount"], foreign["currency"], foreign["amount_kzt"]) == ("60.00", "USD", "30000.00")
    assert foreign["exchange_rate"] == "500.000000" and foreign["exchange_rate_date"] == "2026-03-05"
    assert foreign["method"] == "saved_card" and foreign["gateway_ref"] == "gw-p2"
    # $20.01 of a $60.00 = 30 000 ₸ payment: 10 005 ₸, negative.
    assert (back["amount"], back["amount_kzt"], back["document_number"]) == ("-20.01", "-10005.00", "RN-2026-000001")
    assert back["gateway_ref"] == "gw-refund-1" and back["customer_name"] == "John Smith"


def test_the_range_is_almaty_days_both_ends_included(march):
    assert [r["date"] for r in export_csv("--from", "2026-02-28", "--to", "2026-02-28")] == ["2026-02-28"]
    assert [r["date"] for r in export_csv("--from", "2026-04-01", "--to", "2026-04-01")] == ["2026-04-01"]
    assert export_csv("--from", "2026-03-11", "--to", "2026-03-31") == []


def test_xlsx(march, tmp_path):
    from openpyxl import load_workbook

    path = tmp_path / "march.xlsx"
    call_command("export_payments", "--from", "2026-03-01", "--to", "2026-03-31", "--format", "xlsx",
                 "--output", str(path), stderr=io.StringIO())
    sheet = load_workbook(path, read_only=True)["Payments"]
    rows = list(sheet.values)
    header = rows[0]
    assert header[:4] == ("date", "time", "type", "document_number") and len(rows) == 4
    body = [dict(zip(header, r, strict=True)) for r in rows[1:]]
    assert [r["amount"] for r in body] == [29900, 60, -20.01]
    assert body[2]["amount_kzt"] == -10005 and body[1]["customer_iin_bin"] == march[1].customer.profile.iin_bin


def test_csv_to_a_file(march, tmp_path):
    path = tmp_path / "out.csv"
    err = io.StringIO()
    call_command("export_payments", "--from", "2026-03-01", "--to", "2026-03-31", "--output", str(path), stderr=err)
    assert "3 rows" in err.getvalue()
    assert len(list(csv.DictReader(path.open(encoding="utf-8-sig")))) == 3


@pytest.mark.parametrize("args", [["--from", "2026-03-31", "--to", "2026-03-01"],
                                  ["--from", "31.03.2026", "--to", "2026-04-01"],
                                  ["--from", "2026-03-01", "--to", "2026-03-31", "--format", "xlsx"]])
def test_bad_arguments_are_refused(db, args):
    with pytest.raises(CommandError):
        call_command("export_payments", *args, stdout=io.StringIO())


def test_rows_name_the_customer_as_the_documents_printed_them(march, staff):
    """After a profile edit or the account's deletion (anonymised), a past month exports the
    same: the name, IIN/BIN and e-mail come from the receipt's or refund note's snapshot.
    (Found by the staff explorer: the export read today's profile.)"""
    first, usd, refund = march
    PaymentDocument.objects.filter(payment=first, doc_type="receipt").update(
        data={"customer": {"name": "ТОО Ромашка", "iin_bin": VALID_BIN, "email": "buh@romashka.kz"}})
    PaymentDocument.objects.filter(doc_type="refund_note").update(
        data={"customer": {"name": "John Smith", "iin_bin": "", "email": "john@example.com"}})
    before = export_csv("--from", "2026-03-01", "--to", "2026-03-31")
    for user in (first.customer, usd.customer):
        user.profile.name, user.profile.iin_bin = f"deleted-{user.pk}", ""
        user.profile.save()
        user.email = f"deleted-{user.pk}@invalid"
        user.save()
    after = export_csv("--from", "2026-03-01", "--to", "2026-03-31")
    kz, _foreign, back = after
    assert (kz["customer_name"], kz["customer_iin_bin"], kz["customer_email"]) == (
        "ТОО Ромашка", VALID_BIN, "buh@romashka.kz")
    assert (back["customer_name"], back["customer_email"]) == ("John Smith", "john@example.com")
    assert [r["customer_name"] for r in after] == [r["customer_name"] for r in before][:1] + \
        [f"deleted-{usd.customer.pk}", "John Smith"]  # the USD payment has no receipt here: today's profile
