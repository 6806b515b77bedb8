"""Receipts, refund notes and invoices: gapless numbers per type and year, PDFs for the
owner and staff only, and an invoice paid by bank transfer that starts the subscription
exactly as a card payment does."""

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.db import transaction
from django.utils import formats, timezone

from billing import documents as billing_documents
from billing.models import DocumentSequence, Payment, PaymentDocument
from offer.models import Acceptance
from soldee.models import Event
from soldee.provider import provider_details
from soldee.tasks import RENDER_MAX_ATTEMPTS
from subscriptions.models import AccessGrant, Subscription
from subscriptions.services import checkout_start, entitlement
from tests.factories import VALID_BIN, ProfileFactory

from .conftest import pdf_text, settle, squeeze

pytestmark = pytest.mark.django_db
ALMATY = ZoneInfo("Asia/Almaty")


def pending_payment(customer, plan, documents_, token):
    return checkout_start(customer=customer, plan=plan, document_ids=[d.pk for d in documents_.values()],
                          token=token, client_ip=None, user_agent="")


def receipt_for(payment):
    with transaction.atomic():
        return billing_documents.receipt_create(payment=payment)


def download(client, document):
    response = client.get(f"/billing/documents/{document.number}/pdf/")
    return response, (b"".join(response.streaming_content) if response.status_code == 200 else b"")


def worker_renders(document):
    """What the worker's billing.document_tasks.document_render does (a download never renders)."""
    return billing_documents.document_render(document_id=document.pk)


def test_settling_a_payment_issues_one_numbered_receipt(customer, plan, documents, enqueued):
    """Needs billing.services.payment_settle to call billing.billing_documents.receipt_create."""
    payment = settle(pending_payment(customer, plan, documents, "a"))
    receipt = PaymentDocument.objects.get(payment=payment, doc_type="receipt")
    assert receipt.number == f"R-{receipt.year}-000001" and receipt.amount_minor == payment.amount_minor
    settle(payment)  # a duplicate notification changes nothing
    assert PaymentDocument.objects.filter(doc_type="receipt").count() == 1


def test_numbers_are_sequential_per_type_and_restart_each_year(customer, other_customer, plan, documents):
    with time_machine.travel(datetime(2026, 12, 31, 23, 0, tzinfo=ALMATY), tick=False):
        a = receipt_for(settle(pending_payment(customer, plan, documents, "a")))
        note = None
        with transaction.atomic():
            note = billing_documents.refund_note_create(payment=a.payment, amount_minor=1000, refund_key="refund:1")
    with time_machine.travel(datetime(2026, 12, 31, 23, 30, tzinfo=ALMATY), tick=False):
        b = receipt_for(settle(pending_payment(other_customer, plan, documents, "b")))
    # 1 January in Almaty (still 31 December in UTC): a new year, a new sequence.
    with time_machine.travel(datetime(2027, 1, 1, 0, 30, tzinfo=ALMATY), tick=False):
        Subscription.objects.update(status="ended")
        c = receipt_for(settle(pending_payment(customer, plan, documents, "c")))
    assert [a.number, b.number, c.number] == ["R-2026-000001", "R-2026-000002", "R-2027-000001"]
    assert note.number == "RN-2026-000001"
    assert receipt_for(a.payment).pk == a.pk  # one receipt per payment


def test_a_document_numbered_in_one_year_is_dated_in_that_year(customer, plan, documents, monkeypatch):
    """Found by the dates review: the number's year came from the clock before the wait for
    the numbering lock, the date from the insert after it: R-2026-… dated 1 January 2027."""
    payment = settle(pending_payment(customer, plan, documents, "a"))
    PaymentDocument.objects.all().delete()
    real = billing_documents.numbers_allocate

    def waited_for_the_lock(**kwargs):  # another settlement held the sequence row past midnight
        numbers = real(**kwargs)
        traveller.shift(2)
        return numbers

    monkeypatch.setattr(billing_documents, "numbers_allocate", waited_for_the_lock)
    with time_machine.travel(datetime(2026, 12, 31, 23, 59, 59, tzinfo=ALMATY), tick=False) as traveller:
        with transaction.atomic():
            receipt = billing_documents.receipt_create(payment=payment)
    assert receipt.number.startswith("R-2026-")
    assert timezone.localtime(receipt.created_at, ALMATY).year == 2026


def test_an_invoice_asked_for_late_on_its_last_days_is_a_new_one(company, plan, documents, staff):
    """Found by the dates review: asked for at 23:45 on its last valid day, the customer got
    back the invoice expiring that night."""
    with time_machine.travel(datetime(2026, 12, 1, 10, 0, tzinfo=ALMATY), tick=False):
        first = billing_documents.invoice_issue(customer=company, plan=plan)
    assert first.valid_until.isoformat() == "2026-12-06"
    with time_machine.travel(datetime(2026, 12, 4, 10, 0, tzinfo=ALMATY), tick=False):
        assert billing_documents.invoice_issue(customer=company, plan=plan).pk == first.pk  # two days left
    with time_machine.travel(datetime(2026, 12, 6, 23, 45, tzinfo=ALMATY), tick=False):
        again = billing_documents.invoice_issue(customer=company, plan=plan)
        # One invoice per term on the account; staff marking either paid are told of the other
        # (found by the review: both were listed, and both transfers would be taken).
        assert [i.number for i in billing_documents.payable_invoices(company)] == [again.number]
        assert again.number in billing_documents.invoice_summary(first)
        assert first.number in billing_documents.invoice_summary(again)
        # One paid, the other is named as paid, and what its transfer would do is said.
        billing_documents.invoice_mark_paid(invoice_id=again.pk, by=staff)
        summary = billing_documents.invoice_summary(first)
        assert f"Invoice {again.number} for the same plan and amount is paid already" in summary
        assert "pays the following term in advance" in summary
    assert again.pk != first.pk and again.valid_until.isoformat() == "2026-12-11"


def test_a_rolled_back_transaction_gives_its_number_back(customer, other_customer, plan, documents):
    first = settle(pending_payment(customer, plan, documents, "a"))
    second = settle(pending_payment(other_customer, plan, documents, "b"))
    PaymentDocument.objects.all().delete()
    DocumentSequence.objects.all().delete()
    with pytest.raises(RuntimeError), transaction.atomic():
        assert billing_documents.receipt_create(payment=first).seq == 1
        raise RuntimeError("the settlement failed after the number was taken")
    assert receipt_for(second).number.endswith("-000001")
    assert receipt_for(first).number.endswith("-000002")


@pytest.mark.django_db(transaction=True)
def test_a_number_is_only_taken_inside_the_documents_transaction():
    with pytest.raises(RuntimeError):
        billing_documents.number_allocate(doc_type="receipt", year=2026)


def test_the_receipt_pdf_is_for_its_owner_and_staff_only(client, customer, other_customer, staff, plan, documents):
    payment = settle(pending_payment(customer, plan, documents, "a"))
    receipt = receipt_for(payment)
    client.force_login(other_customer)
    assert download(client, receipt)[0].status_code == 404
    assert client.get("/billing/documents/R-2020-999999/pdf/").status_code == 404
    worker_renders(receipt)
    client.force_login(customer)
    response, data = download(client, receipt)
    assert response.status_code == 200 and response["Content-Type"] == "application/pdf"
    flat = squeeze(pdf_text(data))
    for text in (receipt.number, customer.profile.name, customer.profile.iin_bin, provider_details().bin,
                 "29,900", payment.gateway_ref):
        assert squeeze(text) in flat
    term = payment.term  # the paid term it bought, 30 calendar days from the payment (clause 6.3)
    assert receipt.data["term_starts_at"] == term.starts_at.isoformat()
    shown = [formats.date_format(timezone.localtime(t), "DATETIME_FORMAT") for t in (term.starts_at, term.ends_at)]
    assert "Paidterm" in flat and squeeze(f"{shown[0]} – {shown[1]} (Almaty time, 30 calendar days)") in flat
    client.force_login(staff)
    assert download(client, receipt)[1] == data  # stored once, served again
    receipt.refresh_from_db()
    assert receipt.sha256 and receipt.file


def test_the_render_task_stores_the_pdf_once(customer, plan, documents, enqueued, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        receipt = receipt_for(settle(pending_payment(customer, plan, documents, "a")))
    assert enqueued.names().count("billing.document_tasks.document_render") == 1
    enqueued.run("billing.document_tasks.document_render")
    receipt.refresh_from_db()
    name = receipt.file.name
    billing_documents.document_render(document_id=receipt.pk)
    receipt.refresh_from_db()
    assert name and receipt.file.name == name
    assert Event.objects.filter(verb="document.receipt_rendered").count() == 1


def test_a_refund_note_names_the_payment_and_the_amount_returned(customer, plan, documents):
    payment = settle(pending_payment(customer, plan, documents, "a"))
    receipt = receipt_for(payment)
    with transaction.atomic():
        note = billing_documents.refund_note_create(payment=payment, amount_minor=1_495_000, refund_key="refund:9",
                                            gateway_ref="sbx-refund-1")
    with transaction.atomic():
        assert billing_documents.refund_note_create(payment=payment, amount_minor=1_495_000, refund_key="refund:9").pk == note.pk
    flat = squeeze(pdf_text(billing_documents.document_render(document_id=note.pk).file.read()))
    for text in (note.number, receipt.number, "14,950", payment.gateway_ref, "sbx-refund-1"):
        assert squeeze(text) in flat


# --- Invoices -------------------------------------------------------------------------------

def get_invoice(client, plan):
    response = client.post("/billing/invoices/new/", {"plan": plan.code})
    assert response.status_code == 302, response
    return PaymentDocument.objects.get(number=response["Location"].split("/")[-3])


def test_a_legal_entity_gets_an_invoice_with_requisites_and_the_amount_in_words(client, company, plan, documents):
    client.force_login(company)
    page = client.get("/account/").content.decode()
    assert 'action="/billing/invoices/new/"' in page
    with time_machine.travel(datetime(2026, 11, 25, 12, 0, tzinfo=ALMATY), tick=False):
        invoice = get_invoice(client, plan)
        assert get_invoice(client, plan).pk == invoice.pk  # a second click: the same invoice
        worker_renders(invoice)
        response, data = download(client, invoice)
    assert invoice.number == "INV-2026-000001" and invoice.valid_until.isoformat() == "2026-11-30"
    text = pdf_text(data)
    flat = squeeze(text)
    provider = provider_details()
    for detail in (provider.bin, provider.bank, provider.account, provider.bic, provider.kbe,
                   company.profile.iin_bin, company.profile.name, "859", invoice.number,
                   "Twenty-nine thousand, nine hundred tenge 00 tiyn", "Without VAT", "30 Nov 2026"):
        assert squeeze(detail) in flat, detail
    assert invoice.data["pinned_documents"] and invoice.data["vat_minor"] == 0
    # every version paying it accepts or confirms reviewed (clause 2.4), not only the Offer's
    for pin in invoice.data["pinned_documents"]:
        name = {"offer": "Public Offer", "privacy": "Privacy Policy", "terms": "Terms of Use"}[pin["kind"]]
        assert squeeze(f"{name}, version {pin['label']}") in flat, pin
    assert {p["kind"] for p in invoice.data["pinned_documents"]} == {"offer", "privacy", "terms"}


@pytest.mark.parametrize("language,words", [
    ("en", "Twenty-one thousand, five hundred and two tenge 21 tiyn"),
    ("ru", "Двадцать одна тысяча пятьсот два тенге 21 тиын"),
    ("kk", "Жиырма бір мың бес жүз екі теңге 21 тиын"),
])
def test_the_amount_in_words_is_in_the_invoices_language(company, documents, language, words):
    """It was Russian on every invoice (found by the review of the English and Kazakh ones)."""
    from tests.factories import PlanFactory

    company.language = language
    company.save()
    invoice = billing_documents.invoice_issue(customer=company, plan=PlanFactory(code="odd", price_minor=21_502_21))
    assert invoice.language == language
    html = billing_documents.document_html(invoice)
    assert f'<strong lang="{language}">{words}</strong>' in html


def test_the_vat_line_and_the_purpose_code_come_from_settings(client, company, plan, documents, settings):
    settings.INVOICE_VAT_RATE = 12
    settings.INVOICE_PAYMENT_PURPOSE_CODE = "861"
    client.force_login(company)
    invoice = get_invoice(client, plan)
    assert invoice.data["vat_minor"] == 320_357  # 29 900 × 12 / 112, VAT included in the price
    worker_renders(invoice)
    flat = squeeze(pdf_text(download(client, invoice)[1]))
    assert "IncludingVAT12%" in flat and "₸3,203.57" in flat and "861" in flat
    assert "WithoutVAT" not in flat


def test_individuals_get_no_invoice(client, customer, plan, documents):
    client.force_login(customer)
    assert 'action="/billing/invoices/new/"' not in client.get("/account/").content.decode()
    response = client.post("/billing/invoices/new/", {"plan": plan.code})
    assert response.status_code == 302 and not PaymentDocument.objects.exists()


def test_an_invoice_is_for_its_owner_and_staff_only(client, company, other_customer, plan, documents):
    client.force_login(company)
    invoice = get_invoice(client, plan)
    client.force_login(other_customer)
    assert download(client, invoice)[0].status_code == 404


def test_an_invoice_paid_by_bank_transfer_runs_the_normal_post_payment_path(
        client, company, staff, plan, documents, enqueued, django_capture_on_commit_callbacks, settings):
    settings.SOLDEE_STAFF_MFA_REQUIRED = False
    client.force_login(company)
    invoice = get_invoice(client, plan)
    client.force_login(staff)
    with django_capture_on_commit_callbacks(execute=True):
        action = {"action": "mark_paid_by_bank_transfer", "_selected_action": [invoice.pk]}
        page = client.post("/admin/billing/paymentdocument/", action)  # asks first
        assert page.status_code == 200 and "Has the bank transfer arrived?" in page.content.decode()
        summary = page.context["rows"][0][1]
        assert company.email in summary and "₸29,900" in summary and f"plan {plan.name}" in summary
        assert "not the ones in force" not in summary  # the pinned versions are in force
        assert not Payment.objects.exists()
        assert 'name="received_at"' in page.content.decode()  # when the bank credited it
        response = client.post("/admin/billing/paymentdocument/", {**action, "confirmed": "yes"})
        assert response.status_code == 200 and not Payment.objects.exists()  # asked again: the time is required
        credited = timezone.localtime().replace(second=0, microsecond=0)
        response = client.post("/admin/billing/paymentdocument/", {
            **action, "confirmed": "yes", "received_at": credited.strftime("%Y-%m-%dT%H:%M")})
    assert response.status_code == 302
    invoice.refresh_from_db()
    payment = invoice.payment
    assert payment.method == Payment.Method.BANK_TRANSFER and payment.status == Payment.Status.SUCCEEDED
    assert payment.gateway_ref == f"bank:{invoice.number}" and invoice.paid_at == payment.paid_at
    acceptance = Acceptance.objects.get(payment=payment)
    assert {d["sha256"] for d in invoice.data["pinned_documents"]} == set(
        acceptance.accepted_documents.values_list("sha256", flat=True))
    assert acceptance.customer_snapshot["iin_bin"] == company.profile.iin_bin
    subscription = Subscription.objects.get(customer=company)
    assert subscription.status == "active" and subscription.plan == plan
    enqueued.run("subscriptions.tasks.access_grant")
    assert AccessGrant.objects.get(customer=company).status == AccessGrant.Status.GRANTED
    assert entitlement(company)["entitled"] is True
    paid = Event.objects.get(verb="document.invoice_paid")
    succeeded = Event.objects.get(verb="payment.succeeded", subject_id=str(paid_payment_pk(paid)))
    assert succeeded.actor == staff and succeeded.actor_kind == "staff"  # recorded by staff, not a gateway
    assert paid.actor == staff
    # Marking it paid again changes nothing, and the admin says so.
    again = client.post("/admin/billing/paymentdocument/", {
        **action, "confirmed": "yes", "received_at": credited.strftime("%Y-%m-%dT%H:%M")}, follow=True)
    assert [str(m) for m in again.context["messages"]][-1] == (
        f"{invoice.number} was already marked paid (payment {payment.public_id}); nothing was changed.")
    assert billing_documents.invoice_mark_paid(invoice_id=invoice.pk, by=staff).pk == payment.pk
    assert Payment.objects.filter(customer=company).count() == 1 and Acceptance.objects.count() == 1


def test_the_receipt_and_its_email_describe_the_payment_in_the_customers_language(
        kazakh_customer, plan, documents, mailoutbox):
    """Payments store their description in English (what the gateway and the bank show);
    the receipt PDF and e-mail say it in the customer's language, as the account does."""
    from billing.tasks import receipt_email

    payment = settle(pending_payment(kazakh_customer, plan, documents, "lang"))
    assert ", 30 days" in payment.description and kazakh_customer.language == "ru"
    receipt = PaymentDocument.objects.get(payment=payment, doc_type="receipt")
    html = billing_documents.document_html(receipt)
    assert "30 дней" in html and "30 days" not in html
    receipt_email.run(payment.pk)
    body = mailoutbox[-1].body
    assert "30 дней" in body and "30 days" not in body


def test_a_foreign_currency_payment_shows_the_rate_as_the_reader_writes_it(plan, documents):
    from datetime import timedelta

    from django.utils import timezone

    from offer.agreement_copies import render_agreement_html
    from tests.exchange.exchange_helpers import make_rate

    rate_date = timezone.localdate() - timedelta(days=1)  # the rate in force (rates expire after 7 days)
    make_rate("USD", rate_date, "512.34")
    customer = ProfileFactory(is_resident=False, country="US", payment_currency="USD", iin_bin="").user
    payment = checkout_start(customer=customer, plan=plan, document_ids=[d.pk for d in documents.values()],
                             token="usd", client_ip=None, user_agent="")
    payment = settle(payment)
    receipt = PaymentDocument.objects.get(payment=payment, doc_type="receipt")
    receipt.language = "ru"  # the customer's language, as issued
    html = billing_documents.document_html(receipt)
    assert "512,34" in html and rate_date.strftime("%d.%m.%Y") in html
    assert "512.340000" not in html and rate_date.isoformat() not in html
    agreement = render_agreement_html(payment.acceptance, language="en")
    assert "= ₸29,900 at 512.34 ₸ per 1 USD" in agreement  # the tenge price and the NBK rate, not dollars alone
    with transaction.atomic():  # half of it returned: the refund note gives its tenge equivalent too
        note = billing_documents.refund_note_create(payment=payment, amount_minor=payment.amount_minor // 2,
                                                    refund_key="refund:usd")
    note.language = "en"
    refund_html = billing_documents.document_html(note)
    assert "Equivalent: ₸14,950 at the National Bank of Kazakhstan rate 512.34" in refund_html


def test_a_payment_at_a_demo_rate_is_not_said_to_be_at_the_national_bank_rate(plan, documents):
    """`make run` stores demo rates (source "demo"): the receipt and the refund note of a
    payment converted at one say it was a demo rate, as the checkout page and the receipt
    e-mail do, instead of naming the National Bank of Kazakhstan."""
    from datetime import timedelta

    from billing.models import ExchangeRate
    from tests.exchange.exchange_helpers import make_rate

    make_rate("EUR", timezone.localdate() - timedelta(days=1), "601.13", source=ExchangeRate.Source.DEMO)
    customer = ProfileFactory(is_resident=False, country="DE", payment_currency="EUR", iin_bin="").user
    payment = settle(pending_payment(customer, plan, documents, "demo-eur"))
    assert payment.exchange_rate_source == ExchangeRate.Source.DEMO
    receipt = PaymentDocument.objects.get(payment=payment, doc_type="receipt")
    with transaction.atomic():
        note = billing_documents.refund_note_create(payment=payment, amount_minor=payment.amount_minor,
                                                    refund_key="refund:demo-eur")
    for document in (receipt, note):
        for language, demo, nbk in (
                ("en", "at the demo rate 601.13", "National Bank of Kazakhstan rate 601"),
                ("ru", "по демонстрационному курсу 601,13", "по курсу Национального банка Казахстана 601"),
                ("kk", "демонстрациялық бағамы бойынша: 601,13", "күнгі бағамы бойынша: 601")):
            document.language = language
            html = " ".join(billing_documents.document_html(document).split())
            assert demo in html and nbk not in html, (document.doc_type, language)
    # A receipt issued before its data kept the source reads it off its payment.
    receipt.data.pop("exchange_rate_source")
    receipt.language = "en"
    assert "at the demo rate 601.13" in " ".join(billing_documents.document_html(receipt).split())


def test_staff_are_warned_when_an_invoice_pins_a_version_no_longer_in_force(client, company, plan, documents):
    from offer.models import LegalDocument
    from offer.services import document_publish

    client.force_login(company)
    invoice = get_invoice(client, plan)
    newer = LegalDocument.objects.create(kind="offer", label="2099-01-01", title="Public Offer", body="New text",
                                         effective_date="2099-01-01")
    document_publish(document_id=newer.pk)
    LegalDocument.objects.filter(pk=newer.pk).update(effective_date="2026-01-01")  # in force now
    summary = billing_documents.invoice_summary(invoice)
    assert "(2025-11-01), not the ones in force now (2099-01-01)" in summary


def test_staff_are_warned_when_an_invoice_shows_no_version_of_a_document_in_force(client, company, plan, documents):
    client.force_login(company)
    invoice = get_invoice(client, plan)
    invoice.data["pinned_documents"] = [p for p in invoice.data["pinned_documents"] if p["kind"] != "terms"]
    invoice.save(update_fields=["data"])  # as issued before the Terms of Use were published
    summary = billing_documents.invoice_summary(invoice)
    assert f"(—), not the ones in force now ({documents['terms'].label})" in summary


def test_a_long_name_without_spaces_wraps_on_the_receipt_instead_of_running_off_the_page(plan, documents):
    from soldee.pdf import render_pdf

    name = "Қ" * 200  # nothing to break at
    customer = ProfileFactory(name=name).user
    payment = settle(pending_payment(customer, plan, documents, "long"))
    receipt = PaymentDocument.objects.get(payment=payment, doc_type="receipt")
    text = pdf_text(render_pdf(billing_documents.document_html(receipt)))
    assert name in squeeze(text)  # all of it is printed ...
    assert not any(name in line for line in text.splitlines())  # ... over several lines


def test_the_providers_phone_number_is_printed_on_one_line(customer, plan, documents):
    """The provider's column is narrow: the phone number broke after '+7 700 431', its last
    digits alone on the next line, on every receipt, refund note and agreement copy."""
    from soldee.pdf import render_pdf

    payment = settle(pending_payment(customer, plan, documents, "phone"))
    receipt = receipt_for(payment)
    phone = provider_details().phone
    for language in ("ru", "kk", "en"):
        receipt.language = language
        lines = pdf_text(render_pdf(billing_documents.document_html(receipt))).splitlines()
        assert any(phone in line for line in lines), language


def test_documents_in_russian_and_kazakh_name_the_provider_as_those_languages_write_it(customer, plan, documents):
    payment = settle(pending_payment(customer, plan, documents, "lang"))
    receipt = receipt_for(payment)
    for language, name, address in (("ru", "ТОО «STG»", "г. Алматы"), ("kk", "«STG» ЖШС", "Алматы қ."),
                                     ("en", "STG LLP", "Almaty, Mamyr-7")):
        receipt.language = language
        html = billing_documents.document_html(receipt)
        assert name in html and address in html, language
        assert provider_details().bin in html  # the registration details are the same in every language


def test_a_transfer_recorded_late_counts_from_when_the_bank_credited_it(
        company, staff, plan, documents, enqueued, django_capture_on_commit_callbacks):
    """Clauses 2.3, 5.2, 6.3: the date of payment is when the money was credited. Recorded
    three hours later, the term and the agreement run from the credit, and access granted
    at the recording is late: a breach, which grounds a refund."""
    from datetime import timedelta

    from refunds.selectors import evaluate
    from subscriptions.models import Term

    invoice = billing_documents.invoice_issue(customer=company, plan=plan)
    credited = timezone.now() + timedelta(minutes=1)
    with pytest.raises(ValueError, match="in the future"):
        billing_documents.invoice_mark_paid(invoice_id=invoice.pk, by=staff, received_at=credited + timedelta(hours=1))
    with pytest.raises(ValueError, match="before the invoice was issued"):
        billing_documents.invoice_mark_paid(invoice_id=invoice.pk, by=staff,
                                            received_at=invoice.created_at - timedelta(days=1))
    import time_machine

    with time_machine.travel(credited + timedelta(hours=3), tick=False):
        with django_capture_on_commit_callbacks(execute=True):
            payment = billing_documents.invoice_mark_paid(invoice_id=invoice.pk, by=staff, received_at=credited)
        enqueued.run("subscriptions.tasks.access_grant")
        term = Term.objects.get(payment=payment)
        assert payment.paid_at == credited and term.starts_at == credited
        assert Acceptance.objects.get(payment=payment).accepted_at == credited
        grant = AccessGrant.objects.get(term=term)
        assert grant.deadline_at == credited + timedelta(minutes=30)
        assert grant.granted_at > grant.deadline_at and grant.breached_at is not None
        assert evaluate(payment=payment, ground="late").eligible


def test_the_account_lists_invoices_issued_and_not_paid(client, company, staff, plan, documents):
    client.force_login(company)
    invoice = get_invoice(client, plan)
    page = client.get("/account/").content.decode()
    assert 'id="open-invoices"' in page and f"/billing/documents/{invoice.number}/pdf/" in page
    billing_documents.invoice_mark_paid(invoice_id=invoice.pk, by=staff)
    assert 'id="open-invoices"' not in client.get("/account/").content.decode()


def test_no_invoice_while_a_deletion_request_waits(company, plan, documents):
    from accounts import personal_data

    personal_data.deletion_request_create(customer=company)
    assert billing_documents.invoice_plans_for(company) == []
    with pytest.raises(billing_documents.InvoiceRefused, match="asked us to delete your account"):
        billing_documents.invoice_issue(customer=company, plan=plan)


def test_one_invoice_at_a_time_is_marked_paid(client, company, staff, plan, documents, settings):
    settings.SOLDEE_STAFF_MFA_REQUIRED = False
    first = billing_documents.invoice_issue(customer=company, plan=plan)
    other = ProfileFactory(kind="legal_entity", iin_bin=VALID_BIN, signatory_name="A", signatory_basis="Charter").user
    second = billing_documents.invoice_issue(customer=other, plan=plan)
    client.force_login(staff)
    response = client.post("/admin/billing/paymentdocument/", {
        "action": "mark_paid_by_bank_transfer", "_selected_action": [first.pk, second.pk]}, follow=True)
    assert "Select one invoice" in response.content.decode() and not Payment.objects.exists()


def test_an_invoice_for_another_plan_is_not_offered_once_a_subscription_is_live(
        client, company, staff, plan, documents, time_machine):
    """A company gets invoices for two plans and pays one: the other would buy nothing. It
    leaves the account's list, and staff about to mark it paid (or an expired invoice, or a
    closed account's) are told to return the money instead. (Found by the reviews.)"""
    from datetime import date

    from plans.models import Plan

    pro = Plan.objects.create(code="pro-x", name="Pro X", price_minor=plan.price_minor * 2)
    start_invoice = billing_documents.invoice_issue(customer=company, plan=plan)
    pro_invoice = billing_documents.invoice_issue(customer=company, plan=pro)
    client.force_login(company)
    page = client.get("/account/").content.decode()
    assert start_invoice.number in page and pro_invoice.number in page
    billing_documents.invoice_mark_paid(invoice_id=start_invoice.pk, by=staff)
    page = client.get("/account/").content.decode()
    assert pro_invoice.number not in page
    summary = billing_documents.invoice_summary(pro_invoice)
    assert "already has a subscription to" in summary and "plan Pro X" in summary
    # Staff mark it paid all the same, as the page says (found by the staff explorer: it said
    # not to, and money paid back off the books never reaches the export): it buys nothing and
    # a refund request opens for it.
    assert "Mark it paid all the same" in summary
    with pytest.raises(billing_documents.InvoiceRefused):
        billing_documents.invoice_issue(customer=company, plan=pro)
    from refunds.models import RefundRequest
    from refunds.services import refund_requests_open_for_unapplied
    from subscriptions.models import Term

    paid = billing_documents.invoice_mark_paid(invoice_id=pro_invoice.pk, by=staff)
    assert not Term.objects.filter(payment=paid).exists()
    assert refund_requests_open_for_unapplied() == 1
    assert RefundRequest.objects.get(payment=paid).status == RefundRequest.Status.OPEN
    # An expired invoice is flagged too.
    time_machine.move_to(date(2099, 1, 1), tick=False)
    assert "The invoice expired on" in billing_documents.invoice_summary(pro_invoice)


def paid_payment_pk(invoice_paid_event) -> int:
    from billing.models import Payment

    return Payment.objects.get(public_id=invoice_paid_event.data["payment"]).pk


def test_staff_recording_a_transfer_hours_late_are_told_it_counts_as_late_access(
        client, company, staff, plan, documents, settings, time_machine):
    """Clause 5.2 runs from the credit: staff who record a transfer late learn at once that
    access counts as late (a refund ground). (Found by the audit.)"""
    from datetime import timedelta

    settings.SOLDEE_STAFF_MFA_REQUIRED = False
    invoice = billing_documents.invoice_issue(customer=company, plan=plan)
    credited = timezone.localtime().replace(second=0, microsecond=0) + timedelta(minutes=1)
    time_machine.move_to(credited + timedelta(hours=3), tick=False)
    client.force_login(staff)
    response = client.post("/admin/billing/paymentdocument/", {
        "action": "mark_paid_by_bank_transfer", "_selected_action": [invoice.pk], "confirmed": "yes",
        "received_at": credited.strftime("%Y-%m-%dT%H:%M")}, follow=True)
    texts = [str(m) for m in response.context["messages"]]
    assert any("recorded 180 minutes after the bank credited it" in t for t in texts)


def test_a_credit_time_the_books_refuse_shows_the_confirmation_again_with_why(client, company, staff, plan,
                                                                            documents, settings):
    """Found by the staff explorer: a refused credit time sent staff back to the list."""
    settings.SOLDEE_STAFF_MFA_REQUIRED = False
    invoice = billing_documents.invoice_issue(customer=company, plan=plan)
    client.force_login(staff)
    response = client.post("/admin/billing/paymentdocument/", {
        "action": "mark_paid_by_bank_transfer", "_selected_action": [invoice.pk], "confirmed": "yes",
        "received_at": "2020-01-02T10:15"})
    assert response.status_code == 200
    page = response.content.decode()
    assert "before the invoice was issued" in page and 'value="2020-01-02T10:15"' in page
    assert not Payment.objects.exists()


# --- PDFs left without their render ---------------------------------------------------------

def _render_fails(monkeypatch):
    """The renderer breaks (a full disk, a broken font) until the returned list is cleared."""
    import soldee.pdf

    render, broken = soldee.pdf.render_pdf, [True]

    def render_pdf(*args, **kwargs):
        if broken:
            raise OSError("disk full")
        return render(*args, **kwargs)

    monkeypatch.setattr(soldee.pdf, "render_pdf", render_pdf)
    return broken


def test_a_document_whose_render_was_lost_or_failed_is_rendered_by_the_sweep(
        customer, company, plan, documents, enqueued, monkeypatch, django_capture_on_commit_callbacks):
    """Found by the contract-map audit (as for agreement copies): a receipt, refund note or
    invoice whose render task was lost (the broker down at commit) or failed past its Celery
    retries stayed without its PDF for good; nothing looked again."""
    from datetime import timedelta

    from billing.document_tasks import document_render_sweep

    with django_capture_on_commit_callbacks(execute=True):
        payment = settle(pending_payment(customer, plan, documents, "a"))
        receipt = receipt_for(payment)
        with transaction.atomic():
            note = billing_documents.refund_note_create(payment=payment, amount_minor=1_495_000,
                                                        refund_key="refund:lost")
        invoice = billing_documents.invoice_issue(customer=company, plan=plan)
    assert enqueued.names().count("billing.document_tasks.document_render") == 3
    enqueued.calls.clear()  # none of the render tasks reached a worker
    assert document_render_sweep.apply().get() == 0  # just issued: their tasks may still be on their way
    later = timezone.now() + timedelta(hours=1)
    with time_machine.travel(later, tick=False):
        assert document_render_sweep.apply().get() == 3
    assert sorted(args[0] for name, args, _kw in enqueued.calls) == sorted([receipt.pk, note.pk, invoice.pk])
    enqueued.calls = [c for c in enqueued.calls if c[1] == [receipt.pk]]

    broken = _render_fails(monkeypatch)
    with time_machine.travel(later, tick=False), pytest.raises(OSError):
        enqueued.run("billing.document_tasks.document_render")  # ... and failed past its retries
    receipt.refresh_from_db()
    assert not receipt.file and "disk full" in receipt.render_error
    assert 1 < receipt.render_attempts < RENDER_MAX_ATTEMPTS
    enqueued.calls.clear()
    with time_machine.travel(later + timedelta(minutes=10), tick=False):
        assert receipt.pk not in billing_documents.documents_to_render_again()  # just tried
    broken.clear()
    with time_machine.travel(later + timedelta(hours=1), tick=False):
        assert document_render_sweep.apply().get() == 3  # the receipt, and the two never rendered
        enqueued.run("billing.document_tasks.document_render")
        assert document_render_sweep.apply().get() == 0
    for document in (receipt, note, invoice):
        document.refresh_from_db()
        assert document.file and document.sha256 and not document.render_error


def test_the_sweep_leaves_a_render_that_keeps_failing_to_staff(customer, plan, documents, enqueued, staff_admin,
                                                              monkeypatch):
    from datetime import timedelta

    from billing.document_tasks import document_render_sweep

    receipt = receipt_for(settle(pending_payment(customer, plan, documents, "a")))
    PaymentDocument.objects.filter(pk=receipt.pk).update(
        render_attempts=RENDER_MAX_ATTEMPTS, render_error="OSError('disk full')")
    enqueued.calls.clear()
    with time_machine.travel(timezone.now() + timedelta(hours=1), tick=False):
        assert document_render_sweep.apply().get() == 0
    assert not enqueued.names()
    # Staff find it in the admin and render it again once the cause is fixed.
    page = staff_admin.get("/admin/billing/paymentdocument/?pdf=given_up").content.decode()
    assert receipt.number in page and "not rendered: 10 attempts" in page
    staff_admin.post("/admin/billing/paymentdocument/", {"action": "render_again", "_selected_action": [receipt.pk]})
    assert enqueued.names() == ["billing.document_tasks.document_render"]
    enqueued.run()
    receipt.refresh_from_db()
    assert receipt.file
    assert receipt not in staff_admin.get("/admin/billing/paymentdocument/?pdf=missing").context["cl"].result_list


def test_a_download_never_renders_the_pdf_it_sends_the_render_to_the_worker_once(
        client, customer, other_customer, plan, documents, enqueued, monkeypatch, django_capture_on_commit_callbacks):
    """Found by review: a download of a receipt, refund note or invoice without its PDF
    rendered it in the web request (WeasyPrint, ~0.25 s of CPU), and every "Try again"
    after a failed render rendered again. The request renders nothing: it answers "being
    prepared" (503, Retry-After, Try again) and sends the render to the worker once; "Try
    again" while that render is on its way sends nothing more. Once the worker has rendered
    it, the download is the stored PDF. Not a server error: the document exists."""
    from datetime import timedelta

    import soldee.pdf
    from soldee.tasks import RENDER_RESEND_AFTER

    receipt = receipt_for(settle(pending_payment(customer, plan, documents, "a")))
    real, renders = soldee.pdf.render_pdf, []

    def counting(*args, **kwargs):
        renders.append(1)
        return real(*args, **kwargs)

    monkeypatch.setattr(soldee.pdf, "render_pdf", counting)
    client.force_login(customer)
    url = f"/billing/documents/{receipt.number}/pdf/"
    task = "billing.document_tasks.document_render"
    enqueued.calls.clear()
    # Just issued: the render that issuing sent is still on its way; nothing more is sent.
    with django_capture_on_commit_callbacks(execute=True):
        response = client.get(url, HTTP_ACCEPT_LANGUAGE="en")
    assert response.status_code == 503 and response["Retry-After"]
    body = response.content.decode()
    assert receipt.number in body and "is being prepared. This usually takes a few seconds" in body
    assert f'href="{url}"' in body  # Try again
    # It reloads itself (the PDF usually comes within seconds), a bounded number of times, then
    # leaves "Try again" to the reader: a PDF that does not come reloads no tab for ever.
    assert f'<meta http-equiv="refresh" content="5;url={url}?reload=1">' in body
    later = client.get(f"{url}?reload=23", HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert f'content="5;url={url}?reload=24"' in later
    last = client.get(f"{url}?reload=24", HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert 'http-equiv="refresh"' not in last and "Please try again in a few minutes." in last
    assert f'href="{url}"' in last  # Try again starts the count anew
    assert 'http-equiv="refresh"' in client.get(f"{url}?reload=junk").content.decode()
    assert renders == [] and enqueued.names() == []
    # Its task was lost (the broker down at commit): a download after a while sends it, once.
    PaymentDocument.objects.filter(pk=receipt.pk).update(created_at=timezone.now() - RENDER_RESEND_AFTER * 2)
    for _click in range(3):
        with django_capture_on_commit_callbacks(execute=True):
            assert client.get(url).status_code == 503
    assert renders == [] and enqueued.names() == [task]
    receipt.refresh_from_db()
    assert receipt.render_attempts == 0 and receipt.render_attempted_at  # sent: the sweep waits from here
    # The worker renders it; the download is the stored PDF, not rendered again.
    enqueued.run(task)
    assert renders == [1]
    response, data = download(client, receipt)
    assert response.status_code == 200 and receipt.number in pdf_text(data)
    assert download(client, receipt)[1] == data and renders == [1]
    # Attempts used up: the download sends nothing more (staff render it again from the admin).
    other = receipt_for(settle(pending_payment(other_customer, plan, documents, "b")))
    PaymentDocument.objects.filter(pk=other.pk).update(
        render_attempts=RENDER_MAX_ATTEMPTS, render_attempted_at=timezone.now() - timedelta(hours=2))
    enqueued.calls.clear()
    client.force_login(other_customer)
    with django_capture_on_commit_callbacks(execute=True):
        assert client.get(f"/billing/documents/{other.number}/pdf/").status_code == 503
    assert enqueued.names() == [] and renders == [1]
