"""Staff reach customers' PDFs (receipts, refund notes, invoices, agreement copies) through
the links on admin pages, which lead to the customer's own download URLs. There the admin's
guards apply too: the view permission, a second factor in this session, and a `staff.viewed`
record. Found by the security review: any `is_staff` account, without a permission or a
second factor, could download every customer's documents by their sequential numbers."""

import pytest
from allauth.mfa.totp.internal.auth import TOTP, generate_totp_secret
from django.contrib.auth.models import Permission

from billing.models import PaymentDocument
from offer import agreement_copies
from soldee.models import Event
from tests.factories import UserFactory

from .test_object_access_matrix import _purchase

pytestmark = pytest.mark.django_db


@pytest.fixture
def files(customer, plan, documents, django_capture_on_commit_callbacks, enqueued):
    payment = _purchase(customer, plan, documents, django_capture_on_commit_callbacks)
    with django_capture_on_commit_callbacks(execute=True):
        agreement_copies.request_copy(acceptance_id=payment.acceptance.pk, by=customer)
    enqueued.run()
    receipt = PaymentDocument.objects.get(customer=customer)
    return {"receipt": f"/billing/documents/{receipt.number}/pdf/",
            "agreement": f"/legal/agreements/{payment.acceptance.pk}/copy/download/"}


def _status(client, urls) -> dict:
    return {name: client.get(url).status_code for name, url in urls.items()}


def test_staff_without_the_view_permission_get_404(client, files, settings):
    settings.SOLDEE_STAFF_MFA_REQUIRED = False
    client.force_login(UserFactory(is_staff=True))
    assert _status(client, files) == {"receipt": 404, "agreement": 404}
    assert not Event.objects.filter(verb="staff.viewed").exists()


def test_staff_with_the_permission_need_a_second_factor_in_this_session(client, files, settings):
    settings.SOLDEE_STAFF_MFA_REQUIRED = True
    staff = UserFactory(is_staff=True, is_superuser=True)
    client.force_login(staff)  # a password login: no second factor
    assert _status(client, files) == {"receipt": 404, "agreement": 404}
    TOTP.activate(staff, generate_totp_secret())
    assert _status(client, files) == {"receipt": 404, "agreement": 404}  # an authenticator, not used now


def test_staff_with_the_permission_download_and_are_logged(client, files, customer, settings):
    settings.SOLDEE_STAFF_MFA_REQUIRED = False
    staff = UserFactory(is_staff=True)
    staff.user_permissions.add(*Permission.objects.filter(
        codename__in=["view_paymentdocument", "view_acceptance"]))
    client.force_login(staff)
    assert _status(client, files) == {"receipt": 200, "agreement": 200}
    viewed = Event.objects.filter(verb="staff.viewed", customer=customer, actor=staff)
    assert sorted(viewed.values_list("data__model", flat=True)) == ["billing.paymentdocument", "offer.acceptance"]


def test_the_customer_downloads_their_own_without_a_staff_record(client, files, customer):
    client.force_login(customer)
    assert _status(client, files) == {"receipt": 200, "agreement": 200}
    assert not Event.objects.filter(verb="staff.viewed").exists()


def test_staff_with_the_permission_and_a_second_factor_download(client, files, settings):
    """The real path, with the second factor required: password, then the TOTP code."""
    from .test_staff_mfa import PASSWORD, current_code

    settings.SOLDEE_STAFF_MFA_REQUIRED = True
    staff = UserFactory(is_staff=True, email="mfa-staff@soldee.kz", password=PASSWORD)
    staff.user_permissions.add(*Permission.objects.filter(codename__in=["view_paymentdocument", "view_acceptance"]))
    secret = generate_totp_secret()
    TOTP.activate(staff, secret)
    client.post("/accounts/login/", {"login": staff.email, "password": PASSWORD})
    client.post("/accounts/2fa/authenticate/", {"code": current_code(secret)})
    assert _status(client, files) == {"receipt": 200, "agreement": 200}


def test_the_paper_copy_queue_staff_can_download_the_copy_they_print(client, files, settings):
    """Found by the review: the queue shows them the PDF link; the download needs the queue's
    own view permission or the acceptance's."""
    settings.SOLDEE_STAFF_MFA_REQUIRED = False
    clerk = UserFactory(is_staff=True)
    clerk.user_permissions.add(*Permission.objects.filter(codename__in=["view_agreementcopyrequest",
                                                                        "change_agreementcopyrequest"]))
    client.force_login(clerk)
    assert client.get(files["agreement"]).status_code == 200
    assert client.get(files["receipt"]).status_code == 404  # not their queue
