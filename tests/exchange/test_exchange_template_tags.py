"""What a customer sees: the KZT price, and for a non-resident the converted amount with
the rate, its date and source; what a receipt says about a converted payment."""

from datetime import date, datetime
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.contrib.auth.models import AnonymousUser
from django.template import Context, Template
from django.test import RequestFactory
from django.utils import translation

from billing import exchange
from billing import services as billing
from tests.exchange.exchange_helpers import make_rate
from tests.factories import ProfileFactory

pytestmark = pytest.mark.django_db
NOON_24TH = datetime(2026, 11, 24, 12, 0, tzinfo=ZoneInfo("Asia/Almaty"))


def render(source: str, user, **context) -> str:
    request = RequestFactory().get("/")
    request.user = user
    with translation.override("en"):
        return Template("{% load exchange %}" + source).render(Context({"request": request, **context}))


@pytest.fixture
def usd(db):
    return make_rate("USD", date(2026, 11, 24), "521.18")


@time_machine.travel(NOON_24TH, tick=False)
def test_a_non_resident_sees_kzt_and_their_currency_with_rate_date_and_source(usd):
    user = ProfileFactory(is_resident=False, country="US", payment_currency="USD").user

    html = render("{% price_for_customer 2990000 %}", user)

    assert '<span class="price-kzt">₸29,900</span>' in html
    assert '<span class="price-converted">≈ $57.37</span>' in html
    assert "rate 521.18 ₸ per 1 USD of 24.11.2026, National Bank of Kazakhstan feed" in html


@time_machine.travel(NOON_24TH, tick=False)
def test_a_resident_and_a_visitor_see_the_kzt_price_only(usd, customer):
    assert render("{% price_for_customer 2990000 %}", customer) == '<span class="price-kzt">₸29,900</span>'
    assert render("{% price_for_customer 2990000 %}", AnonymousUser()) == '<span class="price-kzt">₸29,900</span>'


@time_machine.travel(NOON_24TH, tick=False)
def test_without_a_rate_the_customer_is_told_why(db):
    user = ProfileFactory(is_resident=False, country="US", payment_currency="RUB").user

    html = render("{% price_for_customer 2990000 %}", user)

    assert "₸29,900" in html and "cannot convert the price to RUB" in html


@time_machine.travel(NOON_24TH, tick=False)
def test_the_quote_tag_gives_the_conversion_to_lay_out(usd):
    user = ProfileFactory(is_resident=False, country="US", payment_currency="USD").user

    html = render("{% customer_quote 2990000 as q %}{{ q.amount_minor }} {{ q.currency }} {{ q.rate_date|date:'Y-m-d' }}",
                  user)

    assert html == "5737 USD 2026-11-24"


@time_machine.travel(NOON_24TH, tick=False)
def test_a_receipt_shows_amount_kzt_equivalent_rate_date_and_source(usd):
    user = ProfileFactory(is_resident=False, country="US", payment_currency="USD").user
    payment = billing.payment_create(
        customer=user, purpose="checkout", purpose_ref="start", description="Start", idempotency_key="r1",
        conversion=exchange.conversion_for(customer=user, kzt_amount_minor=2_990_000),
    )[0]

    text = render("{{ payment|payment_exchange }}", user, payment=payment)

    assert text == "$57.37 = ₸29,900 at 521.18 ₸ per 1 USD, rate of 24.11.2026 (National Bank of Kazakhstan feed)"


def test_a_kzt_receipt_has_no_exchange_line(customer):
    payment = billing.payment_create(
        customer=customer, purpose="checkout", purpose_ref="start", description="Start", idempotency_key="r2",
        conversion=exchange.conversion_for(customer=customer, kzt_amount_minor=2_990_000),
    )[0]

    assert render("{{ payment|payment_exchange }}", customer, payment=payment) == ""
