"""Page speed: the SQL queries of the pricing page and of the personal account do not grow
with a customer's history (1 → 100 payments, each with its receipt and acceptance)."""

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from billing.models import Payment, PaymentDocument
from offer import services as offer_services
from soldee.models import Event
from tests.factories import PlanFactory

pytestmark = pytest.mark.django_db


def grow_history(customer, plan, documents, upto: int) -> None:
    """Paid payments (with receipt and acceptance) until the customer has `upto`."""
    pinned = [offer_services.pin(d) for d in documents.values()]
    have = Payment.objects.filter(customer=customer).count()
    start = timezone.now() - timedelta(days=30 * upto)
    for i in range(have, upto):
        paid_at = start + timedelta(days=30 * i)
        payment = Payment.objects.create(
            customer=customer, purpose="subscription.renewal", description=f"Soldee — {plan.name}, 30 days",
            amount_minor=plan.price_minor, kzt_amount_minor=plan.price_minor, status=Payment.Status.SUCCEEDED,
            idempotency_key=f"hist-{customer.pk}-{i}", gateway="sandbox", gateway_ref=f"gw-{customer.pk}-{i}",
            card_mask="•••• 4242", method=Payment.Method.SAVED_CARD, paid_at=paid_at, pinned_documents=pinned)
        PaymentDocument.objects.create(doc_type="receipt", number=f"R-T-{customer.pk}-{i}", year=2026,
                                       seq=10_000 * customer.pk + i, customer=customer, payment=payment,
                                       amount_minor=payment.amount_minor)
        offer_services.acceptance_record(payment=payment, plan_code=plan.code, plan_name=plan.name,
                                         price_minor=payment.amount_minor, currency="KZT",
                                         kind="continued_use" if i else "payment")
        Event.objects.create(verb="payment.succeeded", actor_kind="system", customer=customer,
                             subject_type="billing.payment", subject_id=str(payment.pk))


def count_queries(client, url: str) -> tuple[int, list[str]]:
    with CaptureQueriesContext(connection) as ctx:
        response = client.get(url)
    assert response.status_code == 200
    return len(ctx.captured_queries), [q["sql"] for q in ctx.captured_queries]


@pytest.fixture
def history(client, customer, documents, settings):
    plan = PlanFactory(code="start", name="Start", price_minor=2_990_000)
    PlanFactory(code="pro", name="Pro", price_minor=5_990_000)
    client.force_login(customer)

    def at(n: int, url: str, cached: bool = False) -> tuple[int, list[str]]:
        settings.SOLDEE_PAGE_CACHE = cached
        grow_history(customer, plan, documents, n)
        count_queries(client, url)  # warm: sessions, caches, content types (and the page cache)
        return count_queries(client, url)

    return at


# The account page used to run one query per payment shown (payment_documents_for, up to
# 50) and two per agreement (agreement_copy_state, up to 20): 16 queries with 1 payment,
# 103 with 100. subscriptions.selectors prefetches both and the tags use the prefetched
# rows. Rendering is measured with the page cache off; a cache hit is measured too.

PAGES = ["/pricing/", "/account/", "/account/payments/", "/account/agreements/"]


@pytest.mark.parametrize("url", PAGES)
def test_queries_do_not_grow_with_the_payment_history(history, url):
    one, _sql_one = history(1, url)
    hundred, sql_hundred = history(100, url)
    assert hundred == one, f"{url}: {one} queries with 1 payment, {hundred} with 100:\n" + "\n".join(sql_hundred)


def test_a_cached_account_page_costs_the_session_and_user_lookups_only(history):
    one, _sql = history(1, "/account/", cached=True)
    hundred, sql = history(100, "/account/", cached=True)
    assert hundred == one <= 2, "\n".join(sql)  # a visitor's cached pricing page: tests/pagespeed/test_page_cache.py
