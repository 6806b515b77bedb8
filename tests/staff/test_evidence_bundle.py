"""Clause 10 (disputes in RK courts): staff export one customer's records — payments,
acceptances with the accepted documents' hashes, the event log, documents — as a ZIP, also
after the account was deleted; the export is logged. (Found by the audit and the staff
explorer: only the customer could download the archive.)"""

import io
import json
import zipfile

import pytest
from django.contrib.auth.models import Permission
from django.db import transaction

from accounts import personal_data
from soldee.models import Event
from subscriptions.models import Subscription
from subscriptions.services import subscription_end
from tests.billing.helpers import buy
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
    # For a court or counsel: the texts accepted, and a README naming who exported it.
    assert "legal_documents/offer-2025-11-01.txt" in names
    offer_text = archive.read("legal_documents/offer-2025-11-01.txt").decode()
    assert offer_text == documents["offer"].body
    readme = archive.read("README.txt").decode()
    assert "Evidence bundle of the customer" in readme and staff_admin.staff.email in readme
    exported = Event.objects.get(verb="evidence.exported")
    assert exported.actor == staff_admin.staff and exported.customer_id == customer.pk


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
