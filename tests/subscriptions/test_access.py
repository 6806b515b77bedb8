"""Access to the AI agent (clauses 4, 5.2): provisioning, the 30-minute deadline, the
agent platform webhook and the entitlement endpoint."""

import hashlib
import hmac
import json
from datetime import timedelta

import httpx
import pytest
import respx
from django.core import mail

from soldee.models import Event
from subscriptions import tasks
from subscriptions.models import AccessGrant, AgentPlatformKey
from subscriptions.services import access_provision

from ..billing.helpers import buy

pytestmark = pytest.mark.django_db

PLATFORM = "https://agents.example.test/hooks/soldee"


@pytest.fixture
def grant(customer, plan, documents):
    return AccessGrant.objects.get(term__payment=buy(customer, plan, documents))


def test_without_a_platform_access_is_granted_locally_within_the_deadline(grant):
    access_provision(grant_id=grant.pk)
    grant.refresh_from_db()
    assert grant.status == "granted" and grant.granted_on_time and grant.platform_ref == "local"
    assert Event.objects.filter(verb="access.granted", subject_id=str(grant.pk)).exists()


def test_the_platform_is_told_with_a_signed_idempotent_webhook(grant, settings):
    settings.AGENT_PLATFORM_WEBHOOK_URL = PLATFORM
    settings.AGENT_PLATFORM_WEBHOOK_SECRET = "platform-secret"
    with respx.mock:
        route = respx.post(PLATFORM).mock(return_value=httpx.Response(200, json={"reference": "agent-42"}))
        access_provision(grant_id=grant.pk)
    request = route.calls.last.request
    body = request.content
    expected = "sha256=" + hmac.new(b"platform-secret", body, hashlib.sha256).hexdigest()
    assert request.headers["X-Soldee-Signature"] == expected
    assert request.headers["Idempotency-Key"] == f"access-grant:{grant.pk}"
    payload = json.loads(body)
    assert payload["action"] == "grant" and payload["customer"] == str(grant.customer.public_id)
    grant.refresh_from_db()
    assert grant.status == "granted" and grant.platform_ref == "agent-42"


def test_a_platform_outage_is_retried_and_recorded_then_succeeds(grant, settings):
    from celery.exceptions import Retry

    settings.AGENT_PLATFORM_WEBHOOK_URL = PLATFORM
    settings.AGENT_PLATFORM_WEBHOOK_SECRET = "s"
    with respx.mock:
        respx.post(PLATFORM).mock(side_effect=[httpx.ConnectError("down"), httpx.Response(200, json={})])
        with pytest.raises(Retry):
            tasks.access_grant.apply(args=[grant.pk], throw=True)
        grant.refresh_from_db()
        assert grant.status == "pending" and grant.attempts == 1 and "down" in grant.last_error
        tasks.access_grant.apply(args=[grant.pk], throw=True)
    grant.refresh_from_db()
    assert grant.status == "granted" and grant.attempts == 2


def test_a_grant_still_pending_after_30_minutes_is_flagged_once_to_staff(
    grant, time_machine, django_capture_on_commit_callbacks, enqueued
):
    time_machine.move_to(grant.requested_at + timedelta(minutes=29), tick=False)
    assert tasks.access_deadline_sweep.run() == 0
    time_machine.move_to(grant.requested_at + timedelta(minutes=31), tick=False)
    with django_capture_on_commit_callbacks(execute=True):
        assert tasks.access_deadline_sweep.run() == 1
        assert tasks.access_deadline_sweep.run() == 0
    grant.refresh_from_db()
    assert grant.breached_at is not None
    assert Event.objects.filter(verb="access.deadline_missed", subject_id=str(grant.pk)).count() == 1
    enqueued.run("subscriptions.tasks.access_breach_alert")
    assert any("30 minutes" in m.subject for m in mail.outbox)


def test_access_granted_after_the_deadline_is_flagged_too(grant, customer, plan, documents, time_machine,
                                                         django_capture_on_commit_callbacks, enqueued):
    """A payment settled late (a delayed webhook, a late return): granted within seconds of
    the settlement, but two hours after the payment. The sweep never saw it pending."""
    time_machine.move_to(grant.requested_at + timedelta(hours=2), tick=False)
    with django_capture_on_commit_callbacks(execute=True):
        access_provision(grant_id=grant.pk)
    grant.refresh_from_db()
    assert grant.status == "granted" and not grant.granted_on_time and grant.breached_at is not None
    assert Event.objects.get(verb="access.deadline_missed", subject_id=str(grant.pk)).data["status"] == "granted"
    assert "subscriptions.tasks.access_breach_alert" in enqueued.names()
    assert tasks.access_deadline_sweep.run() == 0  # once


def test_access_granted_in_time_is_not_flagged(grant, time_machine):
    time_machine.move_to(grant.requested_at + timedelta(minutes=29), tick=False)
    access_provision(grant_id=grant.pk)
    time_machine.move_to(grant.requested_at + timedelta(hours=2), tick=False)
    assert tasks.access_deadline_sweep.run() == 0


def test_the_entitlement_endpoint_needs_a_key_and_answers_for_the_customer(client, grant):
    url = f"/api/entitlements/{grant.customer.public_id}/"
    assert client.get(url).status_code == 401
    assert client.get(url, HTTP_AUTHORIZATION="Bearer wrong").status_code == 401
    _key, raw = AgentPlatformKey.issue("agent platform")
    auth = {"HTTP_AUTHORIZATION": f"Bearer {raw}"}
    assert client.get(url, **auth).json() == {"customer": str(grant.customer.public_id), "entitled": False,
                                              "plan": None, "until": None}  # paid, access not yet granted
    access_provision(grant_id=grant.pk)
    body = client.get(url, **auth).json()
    assert body["entitled"] is True and body["plan"] == "start"
    assert body["until"] == grant.term.ends_at.isoformat()
    assert client.get("/api/entitlements/00000000-0000-0000-0000-000000000000/", **auth).status_code == 404
    AgentPlatformKey.objects.update(is_active=False)
    assert client.get(url, **auth).status_code == 401


def test_entitlement_ends_with_the_term(client, grant, time_machine):
    from subscriptions.services import entitlement

    access_provision(grant_id=grant.pk)
    time_machine.move_to(grant.term.ends_at - timedelta(seconds=1), tick=False)
    assert entitlement(grant.customer)["entitled"] is True
    time_machine.move_to(grant.term.ends_at + timedelta(seconds=1), tick=False)
    assert entitlement(grant.customer)["entitled"] is False


def test_a_grant_that_reaches_the_platform_after_the_revoke_is_followed_by_another_revoke(
    grant, settings, django_capture_on_commit_callbacks, monkeypatch,
):
    """The grant call was in flight when the subscription ended (a full refund): the
    platform may get the revoke first, then the grant. Its last word must be "revoke"."""
    from django.db import transaction

    from subscriptions import agent_platform
    from subscriptions.models import Subscription
    from subscriptions.services import subscription_end

    settings.AGENT_PLATFORM_WEBHOOK_URL = PLATFORM
    settings.AGENT_PLATFORM_WEBHOOK_SECRET = "s"
    heard: list[tuple[str, str]] = []
    real_send = agent_platform.send

    def send(**kwargs):
        if kwargs["action"] == "grant":  # the subscription ends while this call is out ...
            with transaction.atomic():
                subscription_end(subscription_id=grant.term.subscription_id, reason=Subscription.EndReason.REFUNDED)
            tasks.access_revoke_notify.run(grant.pk)  # ... and its revoke overtakes the grant
        heard.append((kwargs["action"], kwargs["idempotency_key"]))
        return real_send(**kwargs)

    monkeypatch.setattr(agent_platform, "send", send)
    monkeypatch.setattr(tasks.access_revoke_notify, "delay", lambda *a, **kw: tasks.access_revoke_notify.run(*a, **kw))
    with respx.mock, django_capture_on_commit_callbacks(execute=True):
        respx.post(PLATFORM).mock(return_value=httpx.Response(200, json={"reference": "agent-1"}))
        access_provision(grant_id=grant.pk)
    assert [action for action, _key in heard[:2]] == ["revoke", "grant"]
    assert heard[-1] == ("revoke", f"access-revoke:{grant.pk}:after-grant")  # the platform's last word
    grant.refresh_from_db()
    assert grant.status == "revoked"


def test_a_late_revoke_of_an_old_subscription_carries_the_customers_current_entitlement(
        grant, customer, plan, documents, settings, django_capture_on_commit_callbacks):
    """The revoke of an ended subscription, delayed by retries, reaches the platform after
    the grant of the customer's new subscription: it says the customer is still entitled
    (until the new term's end), so the platform does not cut a paying customer off.
    (Found by the money review.)"""
    from django.db import transaction

    from subscriptions.models import Subscription
    from subscriptions.services import subscription_end
    from tests.billing.helpers import buy

    access_provision(grant_id=grant.pk)
    old = grant.term.subscription
    with transaction.atomic():
        subscription_end(subscription_id=old.pk, reason=Subscription.EndReason.REFUNDED)
    new_payment = buy(grant.customer, plan, documents, token="tok-new")
    new_grant = AccessGrant.objects.get(term__payment=new_payment)
    access_provision(grant_id=new_grant.pk)
    settings.AGENT_PLATFORM_WEBHOOK_URL = PLATFORM
    settings.AGENT_PLATFORM_WEBHOOK_SECRET = "s"
    with respx.mock:
        route = respx.post(PLATFORM).mock(return_value=httpx.Response(200, json={}))
        tasks.access_revoke_notify.run(grant.pk)  # the old subscription's revoke, late
    body = json.loads(route.calls.last.request.content)
    assert body["action"] == "revoke" and body["subscription"] == old.pk
    assert body["entitlement"]["entitled"] is True
    assert body["entitlement"]["until"] == new_grant.term.ends_at.isoformat()
