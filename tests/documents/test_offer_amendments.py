"""Offer amendments (clause 11): publishing e-mails live customers in batches, the account
shows a notice until dismissed, and anyone can read the changes as a diff."""

import pytest
from django.core import mail
from django.db import transaction

from offer.models import LegalDocument
from offer.services import document_publish
from subscriptions.models import Subscription
from tests.factories import ProfileFactory

pytestmark = pytest.mark.django_db


def new_offer(documents, label="2099-01-01", body=None):
    old = documents["offer"]
    return LegalDocument.objects.create(
        kind="offer", label=label, title="Public Offer", effective_date="2099-01-01",
        body=body if body is not None else old.body.replace("within 30 minutes", "within 10 minutes")
        + "\n12. A brand new clause.")


def test_publishing_an_offer_version_emails_live_customers_only_in_batches(
        customer, other_customer, buy, documents, enqueued, django_capture_on_commit_callbacks, settings):
    settings.OFFER_NOTICE_BATCH_SIZE = 2
    buy(customer, token="a")
    buy(other_customer, token="b")
    third = ProfileFactory().user
    buy(third, token="c")
    ended = ProfileFactory().user
    buy(ended, token="d")
    Subscription.objects.filter(customer=ended).update(status="ended")
    never_bought = ProfileFactory().user
    with django_capture_on_commit_callbacks(execute=True):
        document_publish(document_id=new_offer(documents).pk)
    assert enqueued.names().count("offer.tasks.offer_amendment_notify") == 1
    enqueued.run("offer.tasks.offer_amendment_notify")
    batches = [args for name, args, _kw in enqueued.calls if name == "offer.tasks.offer_amendment_email_batch"]
    assert [len(ids) for _doc, ids in batches] == [2, 1]
    mail.outbox.clear()
    enqueued.run("offer.tasks.offer_amendment_email_batch")
    assert sorted(m.to[0] for m in mail.outbox) == sorted([customer.email, other_customer.email, third.email])
    assert ended.email not in {m.to[0] for m in mail.outbox} and never_bought.email not in {m.to[0] for m in mail.outbox}
    assert "/legal/offer/diff/2025-11-01/2099-01-01/" in mail.outbox[0].body
    # A redelivered batch sends nothing twice.
    enqueued.run("offer.tasks.offer_amendment_notify")
    enqueued.run("offer.tasks.offer_amendment_email_batch")
    assert len(mail.outbox) == 3


def _publish_to_a_live_and_a_former_customer(kind, title, customer, other_customer, buy, enqueued, capture):
    """`customer` subscribed, `other_customer` whose subscription ended; a new `kind` version
    published and its e-mails sent. Returns the document."""
    from subscriptions.models import Subscription
    from subscriptions.services import subscription_end

    buy(customer)
    buy(other_customer)
    with transaction.atomic():
        subscription_end(subscription_id=Subscription.objects.get(customer=other_customer).pk, reason="cancelled")
    doc = LegalDocument.objects.create(kind=kind, label="2099-01-01", title=title, effective_date="2099-01-01",
                                       body=f"New {title}")
    with capture(execute=True):
        document_publish(document_id=doc.pk)
    enqueued.run("offer.tasks.offer_amendment_notify")
    mail.outbox.clear()
    enqueued.run("offer.tasks.offer_amendment_email_batch")
    return doc


def test_a_new_privacy_policy_is_e_mailed_to_customers_and_noticed_in_the_account(
    client, customer, other_customer, buy, documents, enqueued, django_capture_on_commit_callbacks,
):
    """Privacy Policy 9.1: customers are notified of amendments by e-mail — for the Privacy
    Policy also those whose subscription ended, as their personal data is kept."""
    doc = _publish_to_a_live_and_a_former_customer("privacy", "Privacy Policy", customer, other_customer, buy,
                                                   enqueued, django_capture_on_commit_callbacks)
    assert sorted(m.to[0] for m in mail.outbox) == sorted([customer.email, other_customer.email])
    by_address = {m.to[0]: m.body for m in mail.outbox}
    assert "Your next renewal payment records" in by_address[customer.email]
    assert "Your next renewal payment records" not in by_address[other_customer.email]  # nothing renews
    assert "personal data we keep about you" in by_address[other_customer.email]
    message = mail.outbox[0]
    assert "Privacy Policy has been amended" in message.subject
    assert "new version of the Privacy Policy (2099-01-01)" in message.body
    assert "/legal/privacy/diff/2025-11-01/2099-01-01/" in message.body
    client.force_login(customer)
    page = client.get("/account/").content.decode()
    assert 'id="amendment-notice"' in page and "new version of the Privacy Policy (2099-01-01)" in page
    assert "/legal/privacy/diff/2025-11-01/2099-01-01/" in page
    client.post(f"/legal/notices/{doc.pk}/dismiss/")
    assert 'id="amendment-notice"' not in client.get("/account/").content.decode()


def test_a_new_terms_of_use_version_is_e_mailed_to_live_customers_only(
    customer, other_customer, buy, documents, enqueued, django_capture_on_commit_callbacks,
):
    _publish_to_a_live_and_a_former_customer("terms", "Terms of Use", customer, other_customer, buy, enqueued,
                                             django_capture_on_commit_callbacks)
    assert [m.to[0] for m in mail.outbox] == [customer.email]
    assert "new version of the Terms of Use" in mail.outbox[0].body


def test_the_account_shows_the_amendment_notice_until_dismissed(client, customer, buy, documents):
    buy(customer)
    client.force_login(customer)
    assert 'id="amendment-notice"' not in client.get("/account/").content.decode()
    amended = new_offer(documents)
    document_publish(document_id=amended.pk)
    page = client.get("/account/").content.decode()
    assert 'id="amendment-notice"' in page and "/legal/offer/diff/2025-11-01/2099-01-01/" in page
    response = client.post(f"/legal/notices/{amended.pk}/dismiss/")
    assert response.status_code == 302
    assert 'id="amendment-notice"' not in client.get("/account/").content.decode()
    assert client.post(f"/legal/notices/{amended.pk}/dismiss/").status_code == 302  # idempotent


def test_a_customer_who_accepted_the_newest_version_sees_no_notice(client, customer, buy, documents):
    client.force_login(customer)
    assert 'id="amendment-notice"' not in client.get("/account/").content.decode()  # no acceptance yet
    buy(customer)
    assert 'id="amendment-notice"' not in client.get("/account/").content.decode()


def test_the_diff_page_highlights_removed_and_added_text(client, documents):
    amended = new_offer(documents)
    document_publish(document_id=amended.pk)
    response = client.get("/legal/offer/diff/2025-11-01/2099-01-01/", HTTP_ACCEPT_LANGUAGE="en")
    assert response.status_code == 200
    body = response.content.decode()
    assert '<del class="diff-word-del">30</del>' in body
    assert '<ins class="diff-word-ins">10</ins>' in body
    assert '<div class="diff-line diff-ins">' in body and "12. A brand new clause." in body
    assert "unchanged lines" in body  # long unchanged stretches are folded
    assert "2 lines added" in body and "1 line removed" in body
    versions = client.get("/legal/offer/versions/").content.decode()
    assert "/legal/offer/diff/2025-11-01/2099-01-01/" in versions


def test_the_diff_of_unknown_or_draft_versions_is_404_and_text_is_escaped(client, documents):
    draft = new_offer(documents, label="draft-1", body="<script>alert(1)</script>")
    assert client.get(f"/legal/offer/diff/2025-11-01/{draft.label}/").status_code == 404
    assert client.get("/legal/nope/diff/a/b/").status_code == 404
    published = new_offer(documents, label="2099-02-01", body="<b>bold</b> & more")
    document_publish(document_id=published.pk)
    body = client.get("/legal/offer/diff/2025-11-01/2099-02-01/").content.decode()
    assert "&lt;b&gt;bold&lt;/b&gt;" in body and "<b>bold</b>" not in body


def test_staff_publish_a_draft_in_the_admin_only_after_confirming(
        client, staff, documents, enqueued, settings, django_capture_on_commit_callbacks):
    settings.SOLDEE_STAFF_MFA_REQUIRED = False  # the admin's second factor is tested elsewhere
    client.force_login(staff)
    draft = new_offer(documents)
    action = {"action": "publish", "_selected_action": [draft.pk, documents["offer"].pk]}
    page = client.post("/admin/offer/legaldocument/", action)
    assert page.status_code == 200 and "can never be changed or withdrawn" in page.content.decode()
    assert list(page.context["queryset"]) == [draft]  # the published version is not offered again
    draft.refresh_from_db()
    assert draft.status == LegalDocument.Status.DRAFT and not enqueued.names()
    with django_capture_on_commit_callbacks(execute=True):
        done = client.post("/admin/offer/legaldocument/", {**action, "confirmed": "yes"}, follow=True)
    assert [str(m) for m in done.context["messages"]] == [f"Published {draft}."]
    draft.refresh_from_db()
    assert draft.status == LegalDocument.Status.PUBLISHED
    assert enqueued.names() == ["offer.tasks.offer_amendment_notify"]


def test_a_version_effective_in_the_past_is_refused_with_a_message(client, staff, documents, settings):
    settings.SOLDEE_STAFF_MFA_REQUIRED = False
    client.force_login(staff)
    late = new_offer(documents)
    LegalDocument.objects.filter(pk=late.pk).update(effective_date="2020-01-01")
    done = client.post("/admin/offer/legaldocument/", {"action": "publish", "_selected_action": [late.pk],
                                                       "confirmed": "yes"}, follow=True)
    assert [str(m) for m in done.context["messages"]] == [
        f"{late}: The effective date of a new version cannot be in the past."]
    assert LegalDocument.objects.get(pk=late.pk).status == LegalDocument.Status.DRAFT


def test_a_version_published_for_later_is_shown_at_checkout_and_noticed_after_the_purchase(
    client, customer, plan, documents, buy,
):
    """Published before the purchase, effective after it: the buyer accepts the version in
    force, is shown the coming one at checkout, and the account tells them of it (a renewal
    after its date accepts it by continued use)."""
    coming = new_offer(documents, label="2099-01-01")
    document_publish(document_id=coming.pk)
    client.force_login(customer)
    page = client.get(f"/account/checkout/{plan.code}/").content.decode()
    assert 'id="upcoming-documents"' in page and "2099-01-01" in page
    buy(customer)
    account = client.get("/account/").content.decode()
    assert 'id="amendment-notice"' in account and "new version of the Public Offer (2099-01-01)" in account


def _mailed_with_renewal_off(customer, buy, enqueued, capture, kind: str, title: str):
    """The amendment e-mail of a new `kind` version to a customer whose renewal is off."""
    from subscriptions.models import Subscription
    from subscriptions.services import subscription_set_auto_renew

    buy(customer)
    subscription_set_auto_renew(subscription_id=Subscription.objects.get(customer=customer).pk, on=False,
                                by=customer)
    doc = LegalDocument.objects.create(kind=kind, label="2099-01-01", title=title,
                                       effective_date="2099-01-01", body=f"New {title} text")
    with capture(execute=True):
        document_publish(document_id=doc.pk)
    enqueued.run("offer.tasks.offer_amendment_notify")
    mail.outbox.clear()
    enqueued.run("offer.tasks.offer_amendment_email_batch")
    [message] = mail.outbox
    return message


def test_a_customer_whose_renewal_is_off_is_not_told_a_renewal_will_accept_it(
    customer, buy, documents, enqueued, django_capture_on_commit_callbacks,
):
    message = _mailed_with_renewal_off(customer, buy, enqueued, django_capture_on_commit_callbacks,
                                       "privacy", "Privacy Policy")
    assert "Your next renewal payment records" not in message.body
    assert "personal data we keep about you" in message.body


def test_a_customer_whose_renewal_is_off_is_still_told_what_continued_use_means(
    customer, buy, documents, enqueued, django_capture_on_commit_callbacks,
):
    """Clause 11: their paid term may run past the effective date; using the service then is
    acceptance. (Found by the customer explorer and the audit: the e-mail said nothing.)"""
    message = _mailed_with_renewal_off(customer, buy, enqueued, django_capture_on_commit_callbacks,
                                       "offer", "Public Offer")
    assert "continued use of the service after the effective date means acceptance" in message.body
    assert "the subscription ends with its paid term" in message.body
    assert "Your next renewal payment records" not in message.body
