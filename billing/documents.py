"""Numbered accounting documents: receipts, refund notes and invoices (счёт на оплату).

Numbers are gapless and sequential per document type and calendar year (Asia/Almaty):
`number_allocate` locks the type's `DocumentSequence` row with select_for_update inside
the transaction that creates the document row, so two payments never get the same
number and a rolled-back transaction gives its number back. The sequence row is the
LAST lock any caller takes (after customer → subscription → payment → refund).

The PDF is rendered later (a task, or the first download), never inside a transaction.
"""

from __future__ import annotations

import hashlib
import logging
from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal

from django.conf import settings
from django.core.files.base import ContentFile
from django.db import transaction
from django.db.models import Exists, F, OuterRef, Q
from django.db.models.functions import Coalesce
from django.template.loader import render_to_string
from django.utils import formats, timezone, translation
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from soldee import events
from soldee.locking import lock_customer
from soldee.models import Event
from soldee.tasks import enqueue_on_commit

from . import purposes
from .amount_words import kzt_in_words
from .models import DocumentSequence, ExchangeRate, Payment, PaymentDocument

log = logging.getLogger(__name__)

DocType = PaymentDocument.DocType


class InvoiceRefused(Exception):
    """An invoice that cannot be issued; the message is shown to the customer."""


# --- Settings (defaults when settings.py does not set them) ---------------------------

def vat_rate() -> Decimal | None:
    """INVOICE_VAT_RATE: None (the default) = "without VAT", else a percentage like 12."""
    rate = getattr(settings, "INVOICE_VAT_RATE", None)
    if rate in (None, ""):
        return None
    return Decimal(str(rate))


def payment_purpose_code() -> str:
    return str(getattr(settings, "INVOICE_PAYMENT_PURPOSE_CODE", "859"))


REUSE_DAYS_LEFT = 2  # an open invoice is handed out again only while it is valid this long


def invoice_valid_days() -> int:
    return int(getattr(settings, "INVOICE_VALID_DAYS", 5))


def vat_included_minor(amount_minor: int, rate: Decimal | None) -> int:
    """VAT contained in a VAT-inclusive amount: amount × rate / (100 + rate)."""
    if rate is None:
        return 0
    vat = Decimal(amount_minor) * rate / (Decimal(100) + rate)
    return int(vat.quantize(Decimal(1), rounding=ROUND_HALF_UP))


# --- Numbers ---------------------------------------------------------------------------

def document_year(moment=None) -> int:
    return timezone.localtime(moment or timezone.now()).year


def number_format(doc_type: str, year: int, seq: int) -> str:
    return f"{PaymentDocument.PREFIXES[doc_type]}-{year}-{seq:06d}"


def number_allocate(*, doc_type: str, year: int) -> tuple[int, str]:
    """The next number of `doc_type` in `year`. Call inside the transaction that creates
    the document: the sequence row stays locked until it commits (or rolls back, which
    returns the number)."""
    return numbers_allocate(doc_type=doc_type, year=year, count=1)[0]


def numbers_allocate(*, doc_type: str, year: int, count: int) -> list[tuple[int, str]]:
    """The next `count` consecutive numbers of `doc_type` in `year`, with ONE lock of the
    sequence row (a renewal batch numbers all its receipts at once). Same rules as
    `number_allocate`: inside the documents' transaction, which holds the row until it ends."""
    if not transaction.get_connection().in_atomic_block:
        raise RuntimeError("number_allocate must run inside the document's transaction")
    DocumentSequence.objects.get_or_create(doc_type=doc_type, year=year)
    sequence = DocumentSequence.objects.select_for_update().get(doc_type=doc_type, year=year)
    first = sequence.last_number + 1
    sequence.last_number += count
    sequence.save(update_fields=["last_number"])
    return [(seq, number_format(doc_type, year, seq)) for seq in range(first, first + count)]


def _customer_snapshot(customer) -> dict:
    profile = getattr(customer, "profile", None)
    return profile.snapshot() if profile is not None else {"email": customer.email}


def _document_create(*, doc_type: str, customer, amount_minor: int, currency: str,
                     payment: Payment | None = None, source_ref: str = "", data: dict,
                     valid_until=None, by=None) -> PaymentDocument:
    """Inside the caller's transaction: number + row + event; the PDF after commit."""
    return _documents_create(doc_type=doc_type, by=by, specs=[dict(
        customer=customer, amount_minor=amount_minor, currency=currency, payment=payment,
        source_ref=source_ref, data=data, valid_until=valid_until)])[0]


def _documents_create(*, doc_type: str, specs: list[dict], by=None) -> list[PaymentDocument]:
    """Many documents of one type: consecutive numbers (one sequence lock), one INSERT
    for the rows, one for their events; the PDFs are rendered after commit."""
    now = timezone.now()
    year = document_year(now)
    numbers = numbers_allocate(doc_type=doc_type, year=year, count=len(specs))
    documents = PaymentDocument.objects.bulk_create([
        PaymentDocument(
            doc_type=doc_type, number=number, year=year, seq=seq, customer=spec["customer"],
            payment=spec.get("payment"), amount_minor=spec["amount_minor"], currency=spec["currency"],
            source_ref=spec.get("source_ref", ""), data=spec["data"], valid_until=spec.get("valid_until"),
            language=getattr(spec["customer"], "language", None) or "ru", created_at=now,
        )
        for (seq, number), spec in zip(numbers, specs, strict=True)
    ])
    events.record_many([
        events.build(verb=f"document.{doc_type}_issued", subject=document, customer=document.customer, actor=by,
                     actor_kind=Event.ActorKind.STAFF if by else Event.ActorKind.SYSTEM,
                     data={"number": document.number, "amount_minor": document.amount_minor,
                           "currency": document.currency,
                           "payment": str(document.payment.public_id) if document.payment else None})
        for document in documents
    ])
    from . import document_tasks

    enqueue_on_commit(document_tasks.document_render, document_tasks.document_render_many,
                      [d.pk for d in documents])
    return documents


# --- Receipts and refund notes -----------------------------------------------------------

def receipt_create(*, payment: Payment) -> PaymentDocument:
    """The receipt of a successful payment. Call INSIDE payment_settle's transaction
    (payment row locked), so the number belongs to exactly one settled payment.
    Idempotent: a payment has one receipt."""
    return receipts_create(payments=[payment])[0]


def receipts_create(*, payments: list[Payment]) -> list[PaymentDocument]:
    """`receipt_create` for a batch of settled payments (in their order), numbered with one
    lock of the sequence row. Payments that already have a receipt get it back."""
    existing = {d.payment_id: d for d in PaymentDocument.objects.filter(
        payment__in=[p.pk for p in payments], doc_type=DocType.RECEIPT)}
    new = [p for p in payments if p.pk not in existing]
    bought = purposes.receipt_details(new)  # the paid term's dates, from the purpose's app
    specs = [dict(customer=p.customer, payment=p, amount_minor=p.amount_minor, currency=p.currency,
                  data={**_receipt_data(p), **bought.get(p.pk, {})}) for p in new]
    if specs:
        for document in _documents_create(doc_type=DocType.RECEIPT, specs=specs):
            existing[document.payment_id] = document
    return [existing[p.pk] for p in payments]


def _receipt_data(payment: Payment) -> dict:
    return {
        "customer": _customer_snapshot(payment.customer),
        "description": payment.description,
        "paid_at": payment.paid_at.isoformat() if payment.paid_at else None,
        "method": payment.method,
        "payment_reference": payment.gateway_ref or str(payment.public_id),
        "card_mask": payment.card_mask,
        "kzt_amount_minor": payment.kzt_amount_minor,
        "exchange_rate": str(payment.exchange_rate) if payment.exchange_rate is not None else None,
        "exchange_rate_date": payment.exchange_rate_date.isoformat() if payment.exchange_rate_date else None,
        "exchange_rate_source": payment.exchange_rate_source,
    }


def refund_note_create(*, payment: Payment, amount_minor: int, refund_key: str,
                       gateway_ref: str = "", refunded_at=None) -> PaymentDocument:
    """The refund note for money returned on `payment`. Call INSIDE the transaction that
    records the refund (billing.services.payment_refund_record). One per refund key."""
    existing = PaymentDocument.objects.filter(doc_type=DocType.REFUND_NOTE, source_ref=refund_key).first()
    if existing is not None:
        return existing
    receipt = PaymentDocument.objects.filter(payment=payment, doc_type=DocType.RECEIPT).first()
    data = {
        "customer": _customer_snapshot(payment.customer),
        "description": payment.description,
        "payment_reference": payment.gateway_ref or str(payment.public_id),
        "payment_amount_minor": payment.amount_minor,
        "paid_at": payment.paid_at.isoformat() if payment.paid_at else None,
        "receipt_number": receipt.number if receipt else None,
        "refund_reference": gateway_ref,
        "refunded_at": (refunded_at or timezone.now()).isoformat(),  # a bank transfer: the bank's date
    }
    if payment.currency != "KZT" and payment.exchange_rate is not None and payment.amount_minor:
        # The tenge equivalent of the amount returned, at the payment's own NBK rate (half up).
        data.update({
            "kzt_amount_minor": (2 * amount_minor * payment.kzt_amount_minor + payment.amount_minor)
            // (2 * payment.amount_minor),
            "exchange_rate": str(payment.exchange_rate),
            "exchange_rate_date": payment.exchange_rate_date.isoformat() if payment.exchange_rate_date else None,
            "exchange_rate_source": payment.exchange_rate_source,
        })
    return _document_create(doc_type=DocType.REFUND_NOTE, customer=payment.customer, payment=payment,
                            amount_minor=amount_minor, currency=payment.currency,
                            source_ref=refund_key[:128], data=data)


# --- Invoices for legal entities ---------------------------------------------------------

def invoice_plans_for(customer) -> list:
    """Plans a customer may get an invoice for (resident legal entities only)."""
    profile = getattr(customer, "profile", None)
    if profile is None or profile.kind != profile.Kind.LEGAL_ENTITY or not profile.is_resident:
        return []
    live, refusal = _invoice_state(customer)
    return [] if refusal else _invoice_plans(live)


def _invoice_state(customer) -> tuple:
    """(the live subscription or None, why no invoice is issued now — "" when one may be)."""
    from accounts.personal_data import (
        CONSENT_WITHDRAWN_MESSAGE,
        DELETION_PENDING_MESSAGE,
        consent_withdrawn,
        deletion_requested,
    )
    from subscriptions.services import live_subscription, paid_ahead_term, refunded_ahead

    live = live_subscription(customer)
    if consent_withdrawn(customer):  # an invoice's transfer is a purchase: not without the consent (as checkout_start)
        return live, str(CONSENT_WITHDRAWN_MESSAGE)
    if deletion_requested(customer):  # no purchase while it waits (as checkout_start)
        return live, str(DELETION_PENDING_MESSAGE)
    if live is not None and refunded_ahead(live):  # it ends with this term, then the customer buys again
        return live, _("Your subscription ends with its current term: you can get an invoice for a plan after that.")
    if live is not None and paid_ahead_term(live) is not None:  # a renewal buys one term ahead, no more
        return live, _("Your next term is already paid: you can get an invoice for the term after it once it "
                       "has begun.")
    return live, ""


def _invoice_plans(live) -> list:
    """A live subscription's next term (its plan, even off sale, as card renewals), and
    nothing else: a transfer for another plan would buy nothing (one subscription at a
    time). Without one, the plans on sale."""
    from plans.models import Plan

    return [live.plan] if live is not None else list(Plan.objects.for_sale())


def payable_invoices(customer):
    """The customer's unpaid invoices, still valid, whose transfer would buy what they say:
    none while no invoice may be issued (_invoice_state), and while a subscription is live
    only those for its plan. The account lists these (two invoices for one term, or one
    for another plan, risk a transfer that buys nothing)."""
    invoices = PaymentDocument.objects.filter(customer=customer, doc_type=DocType.INVOICE, payment__isnull=True,
                                              valid_until__gte=timezone.localdate())
    if not invoices.exists():  # most accounts: one query, not _invoice_state's four
        return invoices
    live, refusal = _invoice_state(customer)
    if refusal:
        return PaymentDocument.objects.none()
    if live is not None:
        invoices = invoices.filter(data__plan_code=live.plan.code)
    # An invoice replaced near its end by a new one for the same term (invoice_issue) is not
    # listed beside it: one invoice per term on the account (found by the review). It stays
    # payable: a transfer already sent against it is marked paid as usual.
    newer = invoices.filter(data__plan_code=OuterRef("data__plan_code"), amount_minor=OuterRef("amount_minor"),
                            created_at__gt=OuterRef("created_at"))
    return invoices.exclude(Exists(newer)).order_by("-created_at")


def invoice_issue(*, customer, plan) -> PaymentDocument:
    """An invoice (счёт на оплату) for `plan`, payable by bank transfer. It pins the
    legal documents in force now: paying it accepts those versions. An unpaid invoice
    for the same plan and amount that is still valid is returned instead of a new one."""
    from offer import services as offer_services

    profile = getattr(customer, "profile", None)
    if profile is None or profile.kind != profile.Kind.LEGAL_ENTITY:
        raise InvoiceRefused(_("Invoices for bank transfer are issued to legal entities."))
    if not profile.is_resident:
        raise InvoiceRefused(_("Invoices in tenge are issued to residents of Kazakhstan."))
    live, refusal = _invoice_state(customer)
    if refusal:
        raise InvoiceRefused(refusal)
    allowed = _invoice_plans(live)
    if plan not in allowed:
        if live is not None:  # another plan: its transfer would buy nothing
            raise InvoiceRefused(_("You have a subscription to %(plan)s: an invoice is issued for its next term. "
                                   "Another plan can be bought when this subscription ends.") % {"plan": live.plan.name})
        raise InvoiceRefused(_("This plan is no longer on sale."))
    # The next term of a live subscription costs what its renewal reminder stated, at most.
    price_minor = live.renewal_price_minor if live is not None and live.plan_id == plan.pk else plan.price_minor
    today = timezone.localdate()
    with transaction.atomic():
        lock_customer(customer.pk)
        # The open invoice again, unless it leaves less than REUSE_DAYS_LEFT to make the
        # transfer: one asked for late on its last day must not expire that night.
        open_invoice = PaymentDocument.objects.filter(
            customer=customer, doc_type=DocType.INVOICE, paid_at__isnull=True,
            valid_until__gte=today + timedelta(days=REUSE_DAYS_LEFT), amount_minor=price_minor,
            data__plan_code=plan.code,
        ).order_by("-created_at").first()
        if open_invoice is not None:
            return open_invoice
        in_force = offer_services.documents_in_force()
        rate = vat_rate()
        data = {
            "customer": profile.snapshot(),
            "plan_code": plan.code,
            "plan_name": plan.name,
            "description": f"Soldee — {plan.name}, 30 days",
            "pinned_documents": [offer_services.pin(d) for d in in_force.values()],
            "vat_rate": str(rate) if rate is not None else None,
            "vat_minor": vat_included_minor(price_minor, rate),
            "payment_purpose_code": payment_purpose_code(),
        }
        return _document_create(
            doc_type=DocType.INVOICE, customer=customer, amount_minor=price_minor,
            currency=plan.currency, data=data, valid_until=today + timedelta(days=invoice_valid_days()),
        )


# What staff do with a transfer that buys nothing (found by the staff explorer: the page said
# not to mark it paid, and money returned outside the books never reaches the export).
PAY_BACK = gettext_lazy("Mark it paid all the same, so the money is on the books: a refund request for it opens by "
                        "itself (within 15 minutes), to approve and pay back by bank transfer.")


# An invoice issued before the customer withdrew consent to the processing of personal data,
# paid after it: no new purchase is offered them (_invoice_state), but this money has been
# received and starts the term it pays; staff are told, on the confirmation page and when
# it is marked paid (billing.admin), not stopped.
CONSENT_WITHDRAWN_STAFF_NOTE = gettext_lazy(
    "The customer withdrew consent to the processing of personal data on %(date)s. The money has been received, so "
    "marking the invoice paid still starts the term it pays; automatic renewal will not charge them while consent is "
    "withdrawn. If the customer no longer wants the term, a refund is the way back.")


def invoice_summary(invoice: PaymentDocument) -> str:
    """For the staff member about to mark an invoice paid: who, how much, for what, and
    whether the legal documents it pins are still the ones in force."""
    from accounts.personal_data import consent_withdrawn_at
    from offer.services import documents_in_force
    from soldee.money import format_money
    from subscriptions.services import live_subscription, paid_ahead_term

    if invoice.doc_type != DocType.INVOICE:
        return _("%(number)s is not an invoice: it will be left as it is.") % {"number": invoice.number}
    if invoice.payment_id is not None:
        return _("%(number)s is paid already: it will be left as it is.") % {"number": invoice.number}
    data = invoice.data or {}
    customer = data.get("customer") or {}
    line = _("%(name)s (%(email)s) · %(amount)s · plan %(plan)s · issued %(issued)s, valid until %(until)s.") % {
        "name": customer.get("name") or "—", "email": invoice.customer.email,
        "amount": format_money(invoice.amount_minor, invoice.currency), "plan": data.get("plan_name") or data.get("plan_code") or "—",
        "issued": formats.date_format(timezone.localtime(invoice.created_at).date(), "SHORT_DATE_FORMAT"),
        "until": formats.date_format(invoice.valid_until, "SHORT_DATE_FORMAT") if invoice.valid_until else "—"}
    pinned = {p["kind"]: p for p in data.get("pinned_documents") or []}
    in_force = documents_in_force()
    # A version changed since, or a kind of document published since that the invoice never showed.
    changed = [doc for kind, doc in in_force.items() if kind not in pinned or pinned[kind]["id"] != doc.pk]
    if changed:
        line += " " + _("The customer accepts the versions shown with the invoice (%(pinned)s), not the ones in force "
                        "now (%(now)s): if that matters, issue a new invoice instead.") % {
            "pinned": ", ".join(pinned[d.kind]["label"] if d.kind in pinned else "—" for d in changed),
            "now": ", ".join(d.label for d in changed)}
    if invoice.valid_until and invoice.valid_until < timezone.localdate():
        line += " " + _("The invoice expired on %(date)s: its price and the documents it pins may be out of date; "
                        "if so, return the transfer or issue a new invoice.") % {
            "date": formats.date_format(invoice.valid_until, "SHORT_DATE_FORMAT")}
    if not invoice.customer.is_active:
        line += " " + _("The customer's account is closed (deleted): this transfer buys nothing and must be paid "
                        "back.") + " " + PAY_BACK
    elif (withdrawn_at := consent_withdrawn_at(invoice.customer)) is not None:
        line += " " + CONSENT_WITHDRAWN_STAFF_NOTE % {
            "date": formats.date_format(timezone.localtime(withdrawn_at), "SHORT_DATETIME_FORMAT")}
    # Replaced near its end (invoice_issue): the customer may pay both, the second paying the
    # following term in advance (found by the explorers).
    siblings = PaymentDocument.objects.filter(
        customer=invoice.customer, doc_type=DocType.INVOICE, amount_minor=invoice.amount_minor,
        data__plan_code=data.get("plan_code"), valid_until__gte=timezone.localtime(invoice.created_at).date(),
        created_at__date__lte=invoice.valid_until).exclude(pk=invoice.pk)  # open at the same time
    found = list(siblings.values_list("number", "payment_id"))  # one query for both lists
    unpaid = [number for number, payment_id in found if payment_id is None]
    paid = [number for number, payment_id in found if payment_id is not None]
    if unpaid:
        line += " " + _("Another unpaid invoice for the same plan and amount exists (%(numbers)s): if the customer "
                        "pays both, the second transfer pays the following term in advance.") % {
            "numbers": ", ".join(unpaid)}
    if paid:
        line += " " + _("Invoice %(numbers)s for the same plan and amount is paid already: this transfer pays the "
                        "following term in advance. If the customer meant to pay once, mark it paid and refund it "
                        "(its term has not begun).") % {"numbers": ", ".join(paid)}
    live = live_subscription(invoice.customer)
    if live is not None and live.plan.code != data.get("plan_code"):
        line += " " + _("The customer already has a subscription to %(plan)s: this transfer for another plan buys "
                        "nothing and must be paid back.") % {"plan": live.plan.name} + " " + PAY_BACK
    ahead = paid_ahead_term(live) if live is not None else None
    if ahead is not None:
        line += " " + _("The customer's next term is paid already (from %(start)s): this transfer buys nothing "
                        "and must be paid back.") % {
            "start": formats.date_format(timezone.localtime(ahead.starts_at), "SHORT_DATETIME_FORMAT")} + " " + PAY_BACK
    return line


def invoice_mark_paid(*, invoice_id: int, by, received_at=None) -> Payment:
    """Staff received the bank transfer: run the NORMAL post-payment path with a
    bank-transfer payment (acceptance of the pinned versions, term, access). Idempotent.
    `received_at`: when the money was credited, as the bank statement says (default now):
    it is the date of payment — the agreement's conclusion (2.3), the start of the 30 days
    (6.3) and of the 30 minutes for access (5.2), so a late recording shows as a late grant."""
    from subscriptions.services import PURPOSE_CHECKOUT

    from . import services
    from .gateways import ChargeResult, ChargeStatus

    customer_id = PaymentDocument.objects.values_list("customer_id", flat=True).get(
        pk=invoice_id, doc_type=DocType.INVOICE)
    with transaction.atomic():
        lock_customer(customer_id)
        invoice = PaymentDocument.objects.select_for_update().get(pk=invoice_id)
        if invoice.payment_id is not None:
            return invoice.payment
        now = timezone.now()
        received_at = received_at or now
        if received_at > now:
            raise ValueError(_("The money cannot have been credited in the future."))
        if received_at < invoice.created_at.replace(second=0, microsecond=0):  # staff type minutes
            raise ValueError(_("The money cannot have been credited before the invoice was issued (%(issued)s).") % {
                "issued": formats.date_format(timezone.localtime(invoice.created_at), "DATETIME_FORMAT")})
        payment, _created = services.payment_create(
            customer=invoice.customer, purpose=PURPOSE_CHECKOUT, purpose_ref=invoice.data["plan_code"],
            description=invoice.data.get("description") or invoice.number,
            conversion=services.Conversion(amount_minor=invoice.amount_minor, currency=invoice.currency,
                                           kzt_amount_minor=invoice.amount_minor),
            idempotency_key=f"invoice:{invoice.number}",
            pinned_documents=invoice.data.get("pinned_documents") or [],
            method=Payment.Method.BANK_TRANSFER,
        )
        payment, _newly = services.payment_settle(
            public_id=payment.public_id, source=f"invoice:{invoice.number}", by=by,
            charge=ChargeResult(status=ChargeStatus.APPROVED, amount_minor=invoice.amount_minor,
                                currency=invoice.currency, gateway_ref=f"bank:{invoice.number}",
                                paid_at=received_at),
        )
        invoice.payment = payment
        invoice.paid_at = payment.paid_at
        invoice.save(update_fields=["payment", "paid_at"])
        events.record(verb="document.invoice_paid", subject=invoice, customer=invoice.customer, actor=by,
                      actor_kind=Event.ActorKind.STAFF if by else Event.ActorKind.SYSTEM,
                      data={"number": invoice.number, "payment": str(payment.public_id),
                            "amount_minor": invoice.amount_minor, "received_at": received_at.isoformat()})
    return payment


# --- Rendering ----------------------------------------------------------------------------

def document_context(document: PaymentDocument) -> dict:
    from soldee.money import format_money
    from soldee.provider import provider_details

    from .exchange import format_rate

    data = document.data or {}
    rate = Decimal(data["vat_rate"]) if data.get("vat_rate") else None
    return {
        "document": document,
        "data": data,
        "customer": data.get("customer") or {},
        "provider": provider_details(),
        "amount": format_money(document.amount_minor, document.currency),
        # In the invoice's own language (document_html renders under it).
        "amount_words": kzt_in_words(document.amount_minor, document.language or "ru")
        if document.currency == "KZT" else "",
        "amount_words_lang": document.language or "ru",
        "vat_rate": rate,
        "vat_amount": format_money(data.get("vat_minor") or 0, document.currency),
        "issued_on": timezone.localtime(document.created_at).date(),
        "paid_at": _parse_dt(data.get("paid_at")),
        "refunded_at": _parse_dt(data.get("refunded_at")),
        "term_starts_at": _parse_dt(data.get("term_starts_at")),
        "term_ends_at": _parse_dt(data.get("term_ends_at")),
        "payment_amount": format_money(data["payment_amount_minor"], document.currency)
        if data.get("payment_amount_minor") else "",
        "kzt_amount": format_money(data["kzt_amount_minor"], "KZT")
        if data.get("kzt_amount_minor") and document.currency != "KZT" else "",
        # The stored rate and its date, as the reader writes them ("512,34", "30.11.2026").
        "exchange_rate": format_rate(Decimal(data["exchange_rate"])) if data.get("exchange_rate") else "",
        "exchange_rate_date": formats.date_format(date.fromisoformat(data["exchange_rate_date"]), "SHORT_DATE_FORMAT")
        if data.get("exchange_rate_date") else "",
        # A demo rate (make run) is no National Bank rate: the document says so. Documents
        # issued before the source was kept in their data read it off their payment.
        "exchange_rate_is_demo": _rate_source(document, data) == ExchangeRate.Source.DEMO,
        # The documents paying it accepts (the Offer) and confirms reviewed (clause 2.4).
        "pinned": _pinned_names(data.get("pinned_documents") or []),
        "SITE_URL": settings.SITE_URL,
    }


def _rate_source(document: PaymentDocument, data: dict) -> str:
    if "exchange_rate_source" in data:
        return data["exchange_rate_source"] or ""
    if data.get("exchange_rate") and document.payment_id:
        return document.payment.exchange_rate_source
    return ""


def _pinned_names(pins: list[dict]) -> list[dict]:
    from offer.models import LegalDocument

    order = list(LegalDocument.Kind.values)
    known = [p for p in pins if p.get("kind") in order]
    return [{"name": LegalDocument.Kind(p["kind"]).label, "label": p.get("label", "")}
            for p in sorted(known, key=lambda p: order.index(p["kind"]))]


def _parse_dt(value):
    from django.utils.dateparse import parse_datetime

    return parse_datetime(value) if value else None


def document_html(document: PaymentDocument) -> str:
    with translation.override(document.language or "ru"):
        return render_to_string(f"documents/{document.doc_type}.html", document_context(document))


def document_render(*, document_id: int) -> PaymentDocument:
    """Render and store the PDF once (a worker: billing.document_tasks; never a web request,
    see `document_render_send`). No transaction is open during the render; the stored file
    is attached with a compare-and-set, so two renders keep one file. Each attempt is counted
    and its error kept for the render sweep and staff."""
    from soldee.pdf import render_pdf

    document = PaymentDocument.objects.select_related("customer", "payment").get(pk=document_id)
    if document.file:
        return document
    unrendered = PaymentDocument.objects.filter(pk=document.pk, file="")
    unrendered.update(render_attempts=F("render_attempts") + 1, render_attempted_at=timezone.now())
    try:
        pdf = render_pdf(document_html(document))
        name = document.file.storage.save(
            document.file.field.generate_filename(document, f"{document.number}.pdf"), ContentFile(pdf)
        )
    except Exception as exc:
        unrendered.update(render_error=repr(exc)[:2000])
        raise
    digest = hashlib.sha256(pdf).hexdigest()
    with transaction.atomic():
        updated = unrendered.update(file=name, sha256=digest, rendered_at=timezone.now(), render_error="")
        if updated:
            events.record(verb=f"document.{document.doc_type}_rendered", subject=document,
                          customer=document.customer, data={"number": document.number, "sha256": digest})
    if not updated:  # another render won: keep its file, drop ours
        document.file.storage.delete(name)
    document.refresh_from_db()
    return document


def document_render_send(*, document_id: int) -> bool:
    """A download found the document without its PDF: make sure its render is on its way to
    the worker, never rendering here (a web request must not: WeasyPrint is slow). Sent
    once: not when one was sent or tried in the last RENDER_RESEND_AFTER (issuing the
    document sent one; a customer's "Try again" sends nothing more), nor after
    RENDER_MAX_ATTEMPTS worker attempts (the document waits for staff: admin filter "PDF").
    Marks `render_attempted_at` (the sweep then waits RENDER_STALE_AFTER from it) and sends
    after commit. Returns whether a render was sent."""
    from soldee.tasks import RENDER_MAX_ATTEMPTS, RENDER_RESEND_AFTER

    from . import document_tasks

    now = timezone.now()
    cutoff = now - RENDER_RESEND_AFTER
    sent = PaymentDocument.objects.filter(
        Q(render_attempted_at__lt=cutoff) | Q(render_attempted_at__isnull=True, created_at__lt=cutoff),
        pk=document_id, file="", render_attempts__lt=RENDER_MAX_ATTEMPTS,
    ).update(render_attempted_at=now)
    if sent:
        transaction.on_commit(lambda: document_tasks.document_render.delay(document_id), robust=True)
    return bool(sent)


def documents_to_render_again(*, limit: int = 100) -> list[int]:
    """The ids of receipts, refund notes and invoices still without their PDF whose render
    has not been tried for RENDER_STALE_AFTER (or, never tried, that were issued that long
    ago), below RENDER_MAX_ATTEMPTS worker attempts (soldee.tasks.renders_left_behind)."""
    from soldee.tasks import renders_left_behind

    return renders_left_behind(PaymentDocument.objects.filter(file=""),
                               moved=Coalesce("render_attempted_at", "created_at"), attempts="render_attempts",
                               limit=limit)
