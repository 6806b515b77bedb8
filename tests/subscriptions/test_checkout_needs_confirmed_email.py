"""Clause 5.1 (contract map): the customer registers with a confirmed e-mail address before
paying. An account whose address is not confirmed is sent to confirm it, whether it came
through the sign-up and log-in pages or holds a session some other way (an account staff
made, an address marked unconfirmed again); once confirmed, it checks out as usual."""

import re

import pytest
from allauth.account.models import EmailAddress
from django.urls import reverse

from billing.models import Payment, PaymentDocument
from tests.factories import VALID_BIN, ProfileFactory

pytestmark = pytest.mark.django_db

PASSWORD = "A-long-pass-2026!"


def checkout_form(client, plan):
    page = client.get(f"/account/checkout/{plan.code}/")
    assert page.status_code == 200
    form = page.context["form"]
    return {"token": form.initial["token"], "documents": form.initial["documents"], "accept": "on"}


def test_a_new_account_pays_only_after_confirming_its_address(client, plan, documents, mailoutbox):
    target = f"/account/checkout/{plan.code}/"
    client.post(f"/accounts/signup/?next={target}", {
        "email": "new@example.kz", "password1": PASSWORD, "password2": PASSWORD, "consent": "on", "next": target})
    address = EmailAddress.objects.get(email="new@example.kz")
    assert not address.verified
    ProfileFactory(user=address.user)  # the customer details, so only the address stands in the way
    # Signed up, not confirmed: no session, so no checkout and no payment.
    response = client.get(target)
    assert response.status_code == 302 and response["Location"].startswith(reverse("account_login"))
    client.post(target, {"token": "t", "documents": "", "accept": "on"})
    # Logging in with the right password sends the account to confirm its address instead.
    response = client.post(reverse("account_login"), {"login": "new@example.kz", "password": PASSWORD,
                                                      "next": target})
    assert response.status_code == 302 and response["Location"] == reverse("account_email_verification_sent")
    response = client.get(target)
    assert response.status_code == 302 and response["Location"].startswith(reverse("account_login"))
    assert not Payment.objects.exists()
    # Confirmed: the checkout opens and the payment starts.
    link = re.search(r"https?://\S+(/accounts/confirm-email/\S+/)", mailoutbox[-1].body).group(1)
    response = client.post(link)
    assert response.status_code == 302 and response["Location"] == target
    response = client.post(target, checkout_form(client, plan))
    assert response.status_code == 302
    assert Payment.objects.filter(customer=address.user).count() == 1


def test_a_session_of_an_account_with_no_confirmed_address_is_sent_to_confirm_it(client, plan, documents,
                                                                                  mailoutbox):
    customer = ProfileFactory().user
    EmailAddress.objects.filter(user=customer).update(verified=False)
    client.force_login(customer)
    target = f"/account/checkout/{plan.code}/"
    page = client.get(target)
    assert "account/verified_email_required.html" in [t.name for t in page.templates]
    assert mailoutbox[-1].to == [customer.email]  # the confirmation link, sent again
    link = re.search(r"https?://\S+(/accounts/confirm-email/\S+/)", mailoutbox[-1].body).group(1)
    client.post(target, {"token": "t", "documents": "", "accept": "on"})
    company = ProfileFactory(kind="legal_entity", iin_bin=VALID_BIN, name="TOO Unconfirmed").user
    EmailAddress.objects.filter(user=company).update(verified=False)
    client.force_login(company)  # nor an invoice to pay by bank transfer
    client.post(reverse("billing:invoice_create"), {"plan": plan.code})
    assert not Payment.objects.exists() and not PaymentDocument.objects.exists()
    client.force_login(customer)
    client.post(link)
    response = client.post(target, checkout_form(client, plan))
    assert response.status_code == 302
    assert Payment.objects.filter(customer=customer).count() == 1
