"""Fixtures for the personal-data rights: a paid purchase, an admin client for a staff
member who has passed the two-factor step."""

import time

import pytest
from django.test import Client
from django.utils import timezone

from billing.gateways import ChargeResult, ChargeStatus
from billing.models import SandboxTransaction
from billing.services import payment_settle
from subscriptions.services import checkout_start
from tests.factories import UserFactory


@pytest.fixture
def buy(plan, documents, django_capture_on_commit_callbacks):
    def _buy(customer, token="pd-1"):
        payment = checkout_start(customer=customer, plan=plan, document_ids=[d.pk for d in documents.values()],
                                 token=token, client_ip="10.1.2.3", user_agent="pytest-agent")
        txn = SandboxTransaction.objects.create(
            kind="hosted", status="approved", idempotency_key=f"hosted:{payment.idempotency_key}",
            invoice_id=str(payment.public_id), amount_minor=payment.amount_minor,
            currency=payment.currency, decided_at=timezone.now(), card_last4="4242")
        with django_capture_on_commit_callbacks(execute=True):
            payment_settle(public_id=payment.public_id, charge=ChargeResult(
                status=ChargeStatus.APPROVED, gateway_ref=str(txn.id), amount_minor=payment.amount_minor,
                currency="KZT", card_token=f"tok-secret-{payment.pk}", card_mask="•••• 4242"), source="test")
        payment.refresh_from_db()
        return payment

    return _buy


@pytest.fixture
def staff(db):
    from allauth.mfa.totp.internal.auth import TOTP, generate_totp_secret

    user = UserFactory(is_staff=True, is_superuser=True, email="dpo@soldee.kz")
    TOTP.activate(user, generate_totp_secret())
    return user


@pytest.fixture
def staff_client(staff):
    client = Client()
    client.force_login(staff)
    session = client.session
    session["account_authentication_methods"] = [{"method": "mfa", "type": "totp", "at": time.time()}]
    session["account_authentication_methods_user"] = str(staff.pk)
    session.save()
    return client
