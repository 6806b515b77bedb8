"""Every admin list and change page renders for staff, with the rows a real portal has
(a purchase, a renewal decline, a refund request, an error report, an invoice, an agent
key, a manual rate): a page that breaks shows here, not to the staff member."""

from datetime import timedelta

import pytest
from django.contrib import admin
from django.utils import timezone

from billing.gateways import sandbox
from tests.billing.helpers import buy

pytestmark = pytest.mark.django_db


@pytest.fixture
def portal_rows(customer, other_customer, company, plan, documents, staff):
    from billing import documents as billing_documents
    from refunds import services as refund_services
    from subscriptions.credentials import credential_issue

    payment = buy(customer, plan, documents)
    buy(other_customer, plan, documents, card=sandbox.CARD_DECLINE_RENEWALS, token="tok-2")
    refund_services.refund_request_create(customer=customer, payment_id=payment.pk, ground="late",
                                          explanation="Slow")
    refund_services.error_report_create(customer=customer, what_fails="The agent is down",
                                        since=timezone.now() - timedelta(hours=1), severity="blocker")
    billing_documents.invoice_issue(customer=company, plan=plan)
    credential_issue(customer=customer, by=customer)


def test_every_admin_list_and_change_page_renders(staff_admin, portal_rows):
    broken = []
    for model, model_admin in admin.site._registry.items():
        opts = model._meta
        base = f"/admin/{opts.app_label}/{opts.model_name}/"
        response = staff_admin.get(base)
        if response.status_code != 200:
            broken.append(f"{base}: {response.status_code}")
            continue
        first = model_admin.get_queryset(response.wsgi_request).order_by("pk").first()
        if first is not None:
            change = staff_admin.get(f"{base}{first.pk}/change/")
            if change.status_code != 200:
                broken.append(f"{base}{first.pk}/change/: {change.status_code}")
        if model_admin.has_add_permission(response.wsgi_request):
            add = staff_admin.get(f"{base}add/")
            if add.status_code != 200:
                broken.append(f"{base}add/: {add.status_code}")
    assert broken == []
    assert len(admin.site._registry) > 20


def test_an_action_s_confirmation_page_has_its_title_once(staff_admin, customer, plan, documents):
    """The confirmation of "retry now", "turn renewal off/on", "paid by bank transfer",
    approve/reject: the admin's base already shows the title as the page heading; the page
    showed it twice, one heading under the other."""
    from subscriptions.models import Subscription

    buy(customer, plan, documents)
    sub = Subscription.objects.get(customer=customer)
    page = staff_admin.post("/admin/subscriptions/subscription/", {
        "action": "retry_now", "_selected_action": [sub.pk]}).content.decode()
    assert 'name="confirmed" value="yes"' in page
    assert page.count("<h1>Charge the saved cards now?</h1>") == 1
