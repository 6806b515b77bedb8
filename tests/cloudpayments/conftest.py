"""CloudPayments fixtures: the adapter switched on through settings and a pending
checkout payment made by the real checkout service."""

import pytest

from .cp_helpers import API_SECRET, API_URL, PUBLIC_ID


@pytest.fixture(autouse=True)
def cloudpayments_settings(settings):
    settings.PAYMENT_GATEWAY = "cloudpayments"
    settings.CLOUDPAYMENTS_PUBLIC_ID = PUBLIC_ID
    settings.CLOUDPAYMENTS_API_SECRET = API_SECRET
    settings.CLOUDPAYMENTS_API_URL = API_URL
    settings.CLOUDPAYMENTS_TIMEOUT_SECONDS = 3
    settings.CLOUDPAYMENTS_NOTIFICATION_FORMAT = "form"
    return settings


@pytest.fixture(autouse=True)
def no_backoff_sleep(monkeypatch):
    """Record the adapter's back-off pauses instead of sleeping."""
    from billing.gateways import cloudpayments

    pauses = []
    monkeypatch.setattr(cloudpayments, "_sleep", pauses.append)
    return pauses


@pytest.fixture
def pending_payment(customer, plan, documents):
    from subscriptions.services import checkout_start

    return checkout_start(customer=customer, plan=plan, document_ids=[d.pk for d in documents.values()],
                          token="cp-tok-1", client_ip="10.0.0.9", user_agent="pytest-cp/1.0")

