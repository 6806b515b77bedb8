"""Clause 8: access is tied to the customer's account. Each customer has their own key for
the AI agent, which the platform checks with the verify endpoint; a new key revokes the
old one; the customer or staff revoke a key without ending the subscription."""

import json

import httpx
import pytest
import respx
from django.test import Client

from soldee.models import Event
from subscriptions.credentials import key_hash
from subscriptions.models import AgentCredential, AgentPlatformKey, Subscription

from ..billing.helpers import buy

pytestmark = pytest.mark.django_db

PLATFORM = "https://agents.example.test/hooks/soldee"


@pytest.fixture
def subscribed(customer, plan, documents):
    buy(customer, plan, documents)
    return Subscription.objects.get(customer=customer)


@pytest.fixture
def platform():
    _key, raw = AgentPlatformKey.issue("agent platform")
    return Client(HTTP_AUTHORIZATION=f"Bearer {raw}")


def verify(platform, raw):
    return platform.post("/api/credentials/verify/", json.dumps({"key": raw}), content_type="application/json")


def new_key(client) -> str:
    current = AgentCredential.objects.filter(revoked_at__isnull=True).values_list("prefix", flat=True).first()
    response = client.post("/account/agent-key/new/", {"replaces": current or ""})
    assert response.status_code == 200 and response["Cache-Control"] == "no-store"
    return response.context["raw"]


def test_a_customer_creates_a_key_which_the_platform_checks(client, customer, subscribed, platform):
    from subscriptions.services import access_provision

    client.force_login(customer)
    assert 'id="agent-key-new"' in client.get("/account/").content.decode()
    raw = new_key(client)
    credential = AgentCredential.objects.get(customer=customer)
    assert credential.key_hash == key_hash(raw) and raw not in (credential.prefix, credential.key_hash)
    assert raw.startswith(credential.prefix) and len(raw) > 40
    page = client.get("/account/").content.decode()
    assert f"Active key {credential.prefix}…" in page and raw not in page
    assert "An access key for the AI agent was created" in page  # the customer's history
    access_provision(grant_id=subscribed.terms.get().access_grant.pk)
    answer = verify(platform, raw).json()
    assert answer["customer"] == str(customer.public_id) and answer["entitled"] is True
    assert answer["plan"] == subscribed.plan.code and answer["key_prefix"] == credential.prefix


def test_a_new_key_revokes_the_old_one_at_once(client, customer, subscribed, platform):
    client.force_login(customer)
    first = new_key(client)
    second = new_key(client)
    assert verify(platform, first).status_code == 404
    assert verify(platform, second).status_code == 200
    assert AgentCredential.objects.filter(customer=customer, revoked_at__isnull=True).count() == 1
    old = AgentCredential.objects.get(key_hash=key_hash(first))
    assert old.revoke_reason == "replaced by a new key" and old.revoked_by is None


def test_only_a_key_that_replaced_another_says_the_earlier_one_no_longer_works(
        client, customer, subscribed, platform):
    """Found by the newcomer explorer: the first key's page said "Any earlier key no longer
    works" when there was none."""
    from django.conf import settings
    from django.utils import translation

    client.force_login(customer)
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "kk"
    first = client.post("/account/agent-key/new/", {"replaces": ""}).content.decode()
    prefix = AgentCredential.objects.get(customer=customer).prefix
    with translation.override("kk"):
        shown_once = translation.gettext("Copy it now: it is shown only once and we keep no copy.")
        earlier = translation.gettext("Your earlier key %(replaced)s… no longer works.")
    assert shown_once in first and earlier.split(" %(replaced)s")[0] not in first
    second = client.post("/account/agent-key/new/", {"replaces": prefix}).content.decode()
    assert earlier % {"replaced": prefix} in second


def test_the_customer_revokes_their_key(client, customer, subscribed, platform):
    client.force_login(customer)
    raw = new_key(client)
    response = client.post("/account/agent-key/revoke/", follow=True)
    assert "no longer accepts it" in response.content.decode()
    assert verify(platform, raw).status_code == 404
    assert "Soldee revoked" not in response.content.decode()  # their own doing: no staff wording
    assert "No active key." in client.get("/account/").content.decode()
    event = Event.objects.get(verb="access.key_revoked")
    assert event.actor_kind == "customer" and event.data["reason"] == "revoked by the customer"


def test_staff_revoke_a_key_passed_to_a_third_party_and_the_platform_is_told(
    client, staff_admin, customer, subscribed, platform, settings, enqueued, django_capture_on_commit_callbacks,
    mailoutbox
):
    settings.AGENT_PLATFORM_WEBHOOK_URL = PLATFORM
    settings.AGENT_PLATFORM_WEBHOOK_SECRET = "s"
    raw = "sk_cust_" + "x" * 43
    credential = AgentCredential.objects.create(customer=customer, key_hash=key_hash(raw), prefix=raw[:12])
    form = {"action": "revoke_transferred", "_selected_action": [credential.pk]}
    page = staff_admin.post("/admin/subscriptions/agentcredential/", form)
    assert page.status_code == 200 and "Revoke these access keys?" in page.content.decode()
    assert verify(platform, raw).status_code == 200  # not before staff confirm
    with django_capture_on_commit_callbacks(execute=True):
        staff_admin.post("/admin/subscriptions/agentcredential/", {**form, "confirmed": "yes"})
    assert verify(platform, raw).status_code == 404
    credential.refresh_from_db()
    assert credential.revoked_by == staff_admin.staff and "third party" in credential.revoke_reason
    subscribed.refresh_from_db()
    assert subscribed.is_live  # the subscription is not touched
    assert Event.objects.get(verb="access.key_revoked").actor_kind == "staff"
    # the customer is told, by e-mail and in the account's history, why their agent stopped
    enqueued.run("accounts.tasks.customer_email")
    [mail] = [m for m in mailoutbox if "access key" in m.subject]
    assert credential.prefix in mail.body and "clause 8" in mail.body and mail.to == [customer.email]
    client.force_login(customer)
    history = client.get("/account/").content.decode().split('id="history"')[1]
    assert "Soldee revoked your access key" in history
    with respx.mock:
        route = respx.post(PLATFORM).mock(return_value=httpx.Response(200, json={}))
        enqueued.run("subscriptions.tasks.credential_revoke_notify")
    body = json.loads(route.calls.last.request.content)
    assert body["action"] == "key_revoked" and body["key_prefix"] == credential.prefix
    assert route.calls.last.request.headers["Idempotency-Key"] == f"access-key-revoke:{credential.pk}"


def test_the_verify_endpoint_refuses_strangers_and_bad_input(platform, customer, subscribed):
    assert Client().post("/api/credentials/verify/", "{}", content_type="application/json").status_code == 401
    assert platform.get("/api/credentials/verify/").status_code == 405
    assert platform.post("/api/credentials/verify/", "not json", content_type="application/json").status_code == 400
    assert verify(platform, "sk_cust_unknown").status_code == 404
    assert verify(platform, "").status_code == 404
    assert verify(platform, ["sk_cust_x"]).status_code == 404


def test_a_key_of_an_ended_subscription_answers_not_entitled(client, customer, subscribed, platform):
    from django.db import transaction

    from subscriptions.services import subscription_end

    client.force_login(customer)
    raw = new_key(client)
    with transaction.atomic():
        subscription_end(subscription_id=subscribed.pk, reason=Subscription.EndReason.CANCELLED)
    assert verify(platform, raw).json()["entitled"] is False
    assert "accepts it only while you have access: not now" in client.get("/account/").content.decode()


def test_no_key_without_a_subscription(client, customer):
    client.force_login(customer)
    response = client.post("/account/agent-key/new/", follow=True)
    assert "while you have access to the AI agent" in response.content.decode()
    assert not AgentCredential.objects.exists()
    assert 'id="agent-key"' not in client.get("/account/").content.decode()


def test_no_new_key_while_past_due_after_the_term(client, customer, plan, documents, time_machine):
    """Past due with the paid term over: no access, so no key is created (the button goes)."""
    from datetime import timedelta

    from billing.gateways import sandbox
    from subscriptions import renewals

    buy(customer, plan, documents, card=sandbox.CARD_DECLINE_RENEWALS, token="t-decline")
    sub = Subscription.objects.get(customer=customer)
    time_machine.move_to(sub.current_period_end - timedelta(hours=1), tick=False)
    renewals.renewals_run()
    time_machine.move_to(sub.current_period_end + timedelta(hours=1), tick=False)
    sub.refresh_from_db()
    assert sub.status == "past_due"
    client.force_login(customer)
    assert 'id="agent-key-new"' not in client.get("/account/").content.decode()
    response = client.post("/account/agent-key/new/", {"replaces": ""}, follow=True)
    assert "while you have access to the AI agent" in response.content.decode()
    assert not AgentCredential.objects.exists()


def test_staff_who_may_only_view_keys_cannot_revoke_them(client, customer, subscribed, platform, settings):
    from django.contrib.auth.models import Permission

    from tests.factories import UserFactory

    settings.SOLDEE_STAFF_MFA_REQUIRED = False
    viewer = UserFactory(is_staff=True, email="viewer@soldee.kz")
    viewer.user_permissions.add(Permission.objects.get(codename="view_agentcredential"))
    raw = "sk_cust_" + "v" * 43
    credential = AgentCredential.objects.create(customer=customer, key_hash=key_hash(raw), prefix=raw[:12])
    client.force_login(viewer)
    assert client.get("/admin/subscriptions/agentcredential/").status_code == 200
    client.post("/admin/subscriptions/agentcredential/", {"action": "revoke_transferred",
                                                          "_selected_action": [credential.pk], "confirmed": "yes"})
    assert verify(platform, raw).status_code == 200
    credential.refresh_from_db()
    assert credential.revoked_at is None


def test_a_resubmitted_page_does_not_replace_the_key_just_shown(client, customer, subscribed, platform):
    client.force_login(customer)
    first = client.post("/account/agent-key/new/", {"replaces": ""})
    raw = first.context["raw"]
    again = client.post("/account/agent-key/new/", {"replaces": ""}, follow=True)  # the browser's "resubmit"
    prefix = AgentCredential.objects.get(customer=customer).prefix
    assert f"That page was already sent: your key {prefix}… was created at" in again.content.decode()
    assert "If you did not copy it, replace it below" in again.content.decode()
    assert verify(platform, raw).status_code == 200
    assert AgentCredential.objects.filter(customer=customer).count() == 1


def test_the_customer_and_staff_see_when_the_key_was_last_used(
    client, customer, subscribed, platform, time_machine, staff_admin,
):
    from datetime import timedelta

    from django.db import connection
    from django.test.utils import CaptureQueriesContext
    from django.utils import timezone

    client.force_login(customer)
    raw = new_key(client)
    assert "Not used by the AI agent yet." in client.get("/account/").content.decode()
    start = timezone.now()
    time_machine.move_to(start, tick=False)
    assert verify(platform, raw).status_code == 200
    credential = AgentCredential.objects.get(customer=customer)
    assert credential.last_used_at == start
    # A platform checking on every message writes at most once per LAST_USED_EVERY.
    time_machine.move_to(start + timedelta(minutes=4), tick=False)
    with CaptureQueriesContext(connection) as queries:
        assert verify(platform, raw).status_code == 200
    assert not [q for q in queries.captured_queries if q["sql"].startswith("UPDATE")]
    assert AgentCredential.objects.get(pk=credential.pk).last_used_at == start
    later = start + timedelta(minutes=6)
    time_machine.move_to(later, tick=False)
    assert verify(platform, raw).status_code == 200
    assert AgentCredential.objects.get(pk=credential.pk).last_used_at == later
    # A revoked key is refused and its last use stays what it was.
    client.post("/account/agent-key/revoke/")
    time_machine.move_to(later + timedelta(hours=1), tick=False)
    assert verify(platform, raw).status_code == 404
    assert AgentCredential.objects.get(pk=credential.pk).last_used_at == later
    client.post("/account/agent-key/new/", {"replaces": ""})
    page = client.get("/account/").content.decode()
    assert "Not used by the AI agent yet." in page  # the new key, not the old one's use
    staff_admin.force_login(staff_admin.staff)  # the same client, now in the admin
    listing = staff_admin.get("/admin/subscriptions/agentcredential/").content.decode()
    assert "Last used" in listing and listing.count("field-last_used_at") == 2  # both keys' rows


def test_the_account_shows_the_last_use_of_the_active_key(client, customer, subscribed, platform):
    from django.utils import formats, timezone

    client.force_login(customer)
    raw = new_key(client)
    verify(platform, raw)
    used = AgentCredential.objects.get(customer=customer, revoked_at__isnull=True).last_used_at
    page = client.get("/account/").content.decode()
    stamp = formats.date_format(timezone.localtime(used), "DATETIME_FORMAT")
    assert f"Last used by the AI agent: {stamp}." in page
