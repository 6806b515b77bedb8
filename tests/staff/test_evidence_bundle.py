"""Clause 10 (disputes in RK courts): staff export one customer's records — payments,
acceptances with the accepted documents' hashes, the event log, documents — as a ZIP, also
after the account was deleted; the export is logged. (Found by the audit and the staff
explorer: only the customer could download the archive.)"""

import hashlib
import io
import json
import re
import zipfile

import pytest
from django.contrib.auth.models import Permission
from django.db import transaction

from accounts import evidence, personal_data
from billing.models import PaymentDocument
from offer.models import AgreementCopy, LegalDocument
from offer.services import document_publish, documents_in_force, today_almaty
from soldee.models import Event
from subscriptions.models import Subscription
from subscriptions.services import subscription_end
from tests.billing.helpers import buy
from tests.documents.conftest import pdf_text, squeeze
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db
USERS = "/admin/accounts/user/"


def test_staff_export_a_deleted_customers_evidence_bundle(staff_admin, customer, other_customer, plan,
                                                          documents):
    payment = buy(customer, plan, documents)
    with transaction.atomic():
        subscription_end(subscription_id=Subscription.objects.get(customer=customer).pk, reason="cancelled")
    personal_data.deletion_confirm(request_id=personal_data.deletion_request_create(customer=customer).pk,
                                   by=staff_admin.staff)
    # The receipt's and the agreement's PDFs, rendered by the task the action queues.
    evidence.render_missing(customer_id=customer.pk, staff_id=staff_admin.staff.pk)
    both = staff_admin.post(USERS, {"action": "evidence_bundle", "_selected_action": [customer.pk,
                                                                                     other_customer.pk]},
                            follow=True)
    assert "Select one customer" in both.content.decode()
    response = staff_admin.post(USERS, {"action": "evidence_bundle", "_selected_action": [customer.pk]})
    assert response.status_code == 200 and response["Content-Type"] == "application/zip"
    archive = zipfile.ZipFile(io.BytesIO(b"".join(response.streaming_content)))
    names = set(archive.namelist())
    assert {"data/billing.payment.json", "data/offer.acceptance.json", "data/soldee.event.json",
            "data/accepted_documents.json"} <= names
    payments = json.loads(archive.read("data/billing.payment.json"))
    assert [p["public_id"] for p in payments] == [str(payment.public_id)]
    hashes = json.loads(archive.read("data/accepted_documents.json"))[0]["documents"]
    assert {d["kind"] for d in hashes} == {"offer", "privacy", "terms"} and all(len(d["sha256"]) == 64 for d in hashes)
    agreement = json.loads(archive.read("data/accepted_documents.json"))[0]["agreement_pdf"]
    assert agreement["file"] in names and archive.read(agreement["file"]).startswith(b"%PDF-")
    # For a court or counsel: the texts accepted, and a README naming who exported it.
    assert "legal_documents/offer-2025-11-01.txt" in names
    offer_text = archive.read("legal_documents/offer-2025-11-01.txt").decode()
    assert offer_text == documents["offer"].body
    readme = archive.read("README.txt").decode()
    assert "Evidence bundle of the customer" in readme and staff_admin.staff.email in readme
    exported = Event.objects.get(verb="evidence.exported")
    assert exported.actor == staff_admin.staff and exported.customer_id == customer.pk


def _bundle(response) -> zipfile.ZipFile:
    assert response.status_code == 200 and response["Content-Type"] == "application/zip"
    return zipfile.ZipFile(io.BytesIO(b"".join(response.streaming_content)))


def _new_offer(base, *, label, effective_date, clause) -> LegalDocument:
    document = LegalDocument.objects.create(kind="offer", label=label, title=base.title, effective_date=effective_date,
                                            body=f"{base.body}\n{clause}")
    return document_publish(document_id=document.pk)


def test_the_bundle_holds_the_agreement_pdf_of_every_acceptance_though_no_copy_was_requested(
        staff_admin, customer, other_customer, plan, documents, enqueued, django_capture_on_commit_callbacks, mailoutbox):
    """Found by the contract map: the agreement PDF was in the bundle only when the customer
    had asked for a paper copy. Each acceptance's PDF is now rendered in the background (never
    in the staff member's request), from the versions THAT acceptance recorded."""
    first = buy(customer, plan, documents)
    with transaction.atomic():
        subscription_end(subscription_id=Subscription.objects.get(customer=customer).pk, reason="cancelled")
    amended = _new_offer(documents["offer"], label=str(today_almaty()), effective_date=today_almaty(),
                         clause="AMENDED CLAUSE 12.")
    second = buy(customer, plan, documents_in_force(), token="tok-2")
    later = _new_offer(documents["offer"], label="2099-01-01", effective_date="2099-01-01", clause="LATER CLAUSE 13.")
    enqueued.calls.clear()  # the receipts' own renders, lost: the bundle must not depend on them
    assert not AgreementCopy.objects.exists() and not PaymentDocument.objects.exclude(file="").exists()

    with django_capture_on_commit_callbacks(execute=True):
        page = staff_admin.post(USERS, {"action": "evidence_bundle", "_selected_action": [customer.pk]})
    assert page.status_code == 200 and page["Content-Type"].startswith("text/html")
    text = page.content.decode()
    assert first.acceptance.payment_reference in text and second.acceptance.payment_reference in text
    assert all(d.number in text for d in PaymentDocument.objects.filter(customer=customer))
    assert enqueued.names() == ["accounts.tasks.evidence_pdfs_render"]
    assert not Event.objects.filter(verb="evidence.exported").exists() and not AgreementCopy.objects.exists()

    enqueued.run("accounts.tasks.evidence_pdfs_render")
    assert [m.to for m in mailoutbox] == [[staff_admin.staff.email]]
    assert str(customer.public_id) in mailoutbox[0].body
    link = re.search(r"http\S+(/admin/accounts/user/\?id=\d+)", mailoutbox[0].body).group(1)
    listed = staff_admin.get(link)  # the changelist with that customer alone, to run the action on
    assert listed.status_code == 200 and customer.email in listed.content.decode()
    assert other_customer.email not in listed.content.decode()
    rendered = Event.objects.get(verb="evidence.pdfs_rendered")
    assert rendered.actor == staff_admin.staff and rendered.customer_id == customer.pk
    assert sorted(c["offer"] for c in rendered.data["agreement_copies"]) == sorted(
        [documents["offer"].label, amended.label])
    assert len(rendered.data["documents"]) == 2 and rendered.data["failed"] == []

    archive = _bundle(staff_admin.post(USERS, {"action": "evidence_bundle", "_selected_action": [customer.pk]}))
    names = set(archive.namelist())
    accepted = {a["payment_reference"]: a for a in json.loads(archive.read("data/accepted_documents.json"))}
    for payment, offer, not_offers in ((first, documents["offer"], (amended, later)),
                                       (second, amended, (documents["offer"], later))):
        pdf = accepted[payment.acceptance.payment_reference]["agreement_pdf"]
        assert pdf["file"] in names
        data = archive.read(pdf["file"])
        assert hashlib.sha256(data).hexdigest() == pdf["sha256"] == payment.acceptance.agreement_copy.sha256
        flat = squeeze(pdf_text(data))
        assert offer.sha256 in flat and squeeze(offer.label) in flat
        assert not any(other.sha256 in flat for other in not_offers)
        assert "LATER CLAUSE" not in flat
        # Stored as the customer's own copy: their request later reuses it.
        assert payment.acceptance.agreement_copy.language == customer.language
    receipts = PaymentDocument.objects.filter(customer=customer, doc_type="receipt")
    assert receipts.count() == 2 and all(
        f"files/billing.paymentdocument/{r.pk}/{r.file.name.rsplit('/', 1)[-1]}" in names for r in receipts)


def test_staff_may_download_the_bundle_before_the_pdfs_are_rendered_and_its_readme_says_what_lacks(
        staff_admin, customer, plan, documents, enqueued, django_capture_on_commit_callbacks):
    payment = buy(customer, plan, documents)
    with django_capture_on_commit_callbacks(execute=True):
        staff_admin.post(USERS, {"action": "evidence_bundle", "_selected_action": [customer.pk]})
    archive = _bundle(staff_admin.post(USERS, {"action": "evidence_bundle", "_selected_action": [customer.pk],
                                               "confirmed": "yes"}))
    readme = archive.read("README.txt").decode()
    assert "Missing from this bundle" in readme and payment.acceptance.payment_reference in readme
    receipt = PaymentDocument.objects.get(payment=payment)
    assert receipt.number in readme
    assert json.loads(archive.read("data/accepted_documents.json"))[0]["agreement_pdf"] is None
    assert Event.objects.filter(verb="evidence.exported").count() == 1
    assert enqueued.names().count("accounts.tasks.evidence_pdfs_render") == 1  # queued once, not on the download


def test_a_pdf_that_fails_to_render_is_named_and_the_others_are_still_rendered(
        staff_admin, customer, plan, documents, enqueued, django_capture_on_commit_callbacks, mailoutbox, monkeypatch):
    payment = buy(customer, plan, documents)

    def broken(acceptance, *, language):
        raise ValueError("the stored text does not match the accepted hash")

    monkeypatch.setattr("offer.agreement_copies.render_agreement_pdf", broken)
    with django_capture_on_commit_callbacks(execute=True):
        staff_admin.post(USERS, {"action": "evidence_bundle", "_selected_action": [customer.pk]})
    enqueued.run("accounts.tasks.evidence_pdfs_render")
    assert PaymentDocument.objects.get(payment=payment).file  # the receipt was rendered all the same
    assert not AgreementCopy.objects.exists()
    rendered = Event.objects.get(verb="evidence.pdfs_rendered")
    assert [f["acceptance"] for f in rendered.data["failed"]] == [payment.acceptance.pk]
    assert "Could not be rendered" in mailoutbox[0].body and f"acceptance #{payment.acceptance.pk}" in mailoutbox[0].body


def test_only_staff_who_may_read_customers_and_the_event_log_export_it(client, customer, settings):
    settings.SOLDEE_STAFF_MFA_REQUIRED = False
    viewer = UserFactory(is_staff=True, email="viewer@soldee.kz")
    viewer.user_permissions.add(Permission.objects.get(codename="view_user"))
    client.force_login(viewer)
    assert "evidence_bundle" not in client.get(USERS).content.decode()
    response = client.post(USERS, {"action": "evidence_bundle", "_selected_action": [customer.pk]})
    assert response.get("Content-Type") != "application/zip"
    assert not Event.objects.filter(verb="evidence.exported").exists()


def test_a_customers_login_is_not_closed_by_unticking_active(staff_admin, customer):
    page = staff_admin.get(f"{USERS}{customer.pk}/change/").content.decode()
    assert 'name="is_active"' not in page
    assert 'name="is_active"' in staff_admin.get(f"{USERS}{staff_admin.staff.pk}/change/").content.decode()


def test_a_profile_cannot_be_moved_to_another_account(staff_admin, customer):
    page = staff_admin.get(f"/admin/accounts/customerprofile/{customer.profile.pk}/change/").content.decode()
    assert 'name="user"' not in page


def test_the_confirmation_page_and_the_ready_e_mail_read_as_the_admin_does(
        staff_admin, customer, plan, documents, enqueued, django_capture_on_commit_callbacks, mailoutbox, monkeypatch):
    """Found by the browser explorer: "No, go back" was a link in a blue box, not Django's grey
    button; the agreement line said "(акцепт 2026-11-30 19:33)" in Russian text; the e-mail
    said "PDFs … were rendered: 1 in all" and named the customer by a UUID alone."""
    from django.utils import formats, timezone, translation

    payment = buy(customer, plan, documents)
    staff_admin.cookies["django_language"] = "ru"
    with django_capture_on_commit_callbacks(execute=True):
        page = staff_admin.post(USERS, {"action": "evidence_bundle", "_selected_action": [customer.pk]})
    text = page.content.decode()
    assert re.search(r'<body class="[^"]*\bdelete-confirmation\b', text)
    assert re.search(r'<a role="button" href="#" class="button cancel-link">', text)
    assert "admin/js/cancel.js" in text
    with translation.override("ru"):
        at = formats.date_format(timezone.localtime(payment.acceptance.accepted_at), "DATETIME_FORMAT")
    assert at in text and timezone.localtime(payment.acceptance.accepted_at).strftime("%Y-%m-%d") not in text

    def broken(acceptance, *, language):
        raise ValueError("not this one")

    monkeypatch.setattr("offer.agreement_copies.render_agreement_pdf", broken)  # the receipt alone is rendered
    staff_admin.staff.language = "en"
    staff_admin.staff.save(update_fields=["language"])
    enqueued.run("accounts.tasks.evidence_pdfs_render")
    body = mailoutbox[0].body
    assert "The PDF missing from the evidence bundle of customer" in body and "1 in all" in body
    assert "PDFs missing" not in body
    assert customer.email in body and customer.profile.name in body and str(customer.public_id) in body
