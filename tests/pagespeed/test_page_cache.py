"""The page cache (soldee/pagecache.py): the visitor's pricing page and the personal account
are served from the cache, go stale at once when their data changes, and never share a
CSRF token or CSP nonce between requests."""

import re

import pytest
from django.db import connection, transaction
from django.test import Client
from django.test.utils import CaptureQueriesContext

from billing.gateways import ChargeResult, ChargeStatus
from billing.services import payment_refund_record, payment_settle
from subscriptions.services import checkout_start, subscription_set_auto_renew
from tests.factories import PlanFactory

pytestmark = pytest.mark.django_db

CSRF = re.compile(r'name="csrfmiddlewaretoken" value="([^"]+)"')


def get(client, url, **extra):
    with CaptureQueriesContext(connection) as ctx:
        response = client.get(url, **extra)
    assert response.status_code == 200
    return response.content.decode(), len(ctx.captured_queries)


def buy(customer, plan, documents, token="t1"):
    payment = checkout_start(customer=customer, plan=plan, document_ids=[d.pk for d in documents.values()],
                             token=token, client_ip="10.1.2.3", user_agent="pytest/1.0")
    return payment_settle(public_id=payment.public_id, source="test", charge=ChargeResult(
        status=ChargeStatus.APPROVED, gateway_ref=f"ref-{payment.pk}", amount_minor=payment.amount_minor,
        currency=payment.currency, card_token=f"tok-{payment.pk}", card_mask="•••• 4242"))[0]


# --- Pricing -------------------------------------------------------------------------

def test_a_price_change_shows_at_once_on_the_cached_pricing_page(client):
    plan = PlanFactory(code="start", name="Start", price_minor=2_990_000)
    first, _n = get(client, "/pricing/")
    again, queries = get(client, "/pricing/")
    assert "₸29,900" in first and queries == 0  # the second visit came from the cache
    plan.price_minor = 3_490_000
    plan.save()
    changed, _n = get(client, "/pricing/")
    assert "₸34,900" in changed and "₸29,900" not in changed
    PlanFactory(code="pro", name="Pro Max", price_minor=5_990_000)
    assert "Pro Max" in get(client, "/pricing/")[0]
    plan.is_active = False
    plan.save()
    assert 'data-plan="start"' not in get(client, "/pricing/")[0]


def test_a_render_racing_a_price_change_is_never_served(client, monkeypatch):
    """Versions are read before the render: a page rendered from the old price and stored
    after the change is stored with the old versions and never served."""
    from plans import views

    plan = PlanFactory(code="start", name="Start", price_minor=2_990_000)
    real_render = views.render

    def render_then_change_the_price(*args, **kwargs):
        response = real_render(*args, **kwargs)
        monkeypatch.setattr(views, "render", real_render)
        plan.price_minor = 3_490_000
        plan.save()  # commits while the old page is on its way to the cache
        return response

    monkeypatch.setattr(views, "render", render_then_change_the_price)
    assert "₸29,900" in get(client, "/pricing/")[0]
    assert "₸34,900" in get(client, "/pricing/")[0]


def test_the_cached_pricing_page_is_per_language(client):
    PlanFactory(code="start", name="Start", price_minor=2_990_000)
    for _ in range(2):
        assert "₸29,900" in get(client, "/pricing/", HTTP_ACCEPT_LANGUAGE="en")[0]
        assert "29\xa0900\xa0₸" in get(client, "/pricing/", HTTP_ACCEPT_LANGUAGE="ru")[0]
        assert "Тарифы" in get(client, "/pricing/", HTTP_ACCEPT_LANGUAGE="ru")[0]


def test_visitors_never_share_a_csrf_token_and_the_language_switch_works():
    PlanFactory(code="start", name="Start", price_minor=2_990_000)
    tokens = []
    for _ in range(3):
        visitor = Client(enforce_csrf_checks=True)
        page, _n = get(visitor, "/pricing/?utm_source=test")
        token = CSRF.search(page).group(1)
        assert 'name="next" value="/pricing/?utm_source=test"' in page
        tokens.append(token)
        response = visitor.post("/i18n/setlang/", {"language": "kk", "next": "/pricing/",
                                                   "csrfmiddlewaretoken": token})
        assert response.status_code == 302  # the token matches this visitor's cookie
    assert len(set(tokens)) == 3


def test_a_customer_gets_their_own_pricing_page_not_the_visitors(client, customer):
    PlanFactory(code="start", name="Start", price_minor=2_990_000)
    get(client, "/pricing/")  # the visitor's page is cached
    client.force_login(customer)
    page, _n = get(client, "/pricing/")
    assert "Log out" in page and "Sign up" not in page


# --- Personal account ------------------------------------------------------------------

def test_the_account_is_served_from_the_cache_and_fresh_after_purchase_cancellation_refund(
        client, customer, plan, documents):
    client.force_login(customer)
    before, _n = get(client, "/account/")
    assert "You have no subscription yet." in before
    _again, queries = get(client, "/account/")
    assert queries <= 2  # session and user only: the page came from the cache

    settled = buy(customer, plan, documents)
    page, _n = get(client, "/account/")
    assert "You have no subscription yet." not in page and 'id="renewal-off"' in page
    assert "Receipt" in page

    subscription_set_auto_renew(subscription_id=customer.subscriptions.get().pk, on=False, by=customer)
    page, _n = get(client, "/account/")
    assert 'id="renewal-on"' in page and "Off: the subscription ends on" in page

    with transaction.atomic():
        payment_refund_record(payment_id=settled.pk, amount_minor=100_000, gateway_ref="rf-1", refund_key="rk-1")
    page, _n = get(client, "/account/")
    assert "refunded" in page and "Refund note" in page


def test_a_cached_account_page_carries_this_requests_csrf_token_and_csp_nonce(client, customer, plan, documents):
    buy(customer, plan, documents)
    client.force_login(customer)
    get(client, "/account/")
    response = client.get("/account/")
    page = response.content.decode()
    nonce = re.search(r'nonce="([^"]+)"', page).group(1)
    assert f"'nonce-{nonce}'" in response.headers["Content-Security-Policy"]
    assert CSRF.search(page) and "\x00" not in page
    other = client.get("/account/").content.decode()
    assert re.search(r'nonce="([^"]+)"', other).group(1) != nonce


def test_a_customer_never_gets_another_customers_cached_account(client, customer, other_customer, plan, documents):
    buy(customer, plan, documents)
    client.force_login(customer)
    assert "Receipt" in get(client, "/account/")[0]
    client.force_login(other_customer)
    page, _n = get(client, "/account/")
    assert "Receipt" not in page and "No payments yet." in page


def test_flash_messages_are_shown_once_and_not_cached(client, customer, plan, documents):
    buy(customer, plan, documents)
    client.force_login(customer)
    get(client, "/account/")
    sub = customer.subscriptions.get()
    response = client.post(f"/account/subscriptions/{sub.pk}/renewal/", {"on": "0"}, follow=True)
    assert "Automatic renewal is off" in response.content.decode()
    assert "Automatic renewal is off" not in get(client, "/account/")[0]
