"""Clause 6.2 at checkout and renewal: who pays what, at which rate, stored on the payment."""

from datetime import date, datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
import time_machine

from billing import exchange
from billing import services as billing
from subscriptions import services as subscriptions
from tests.exchange.exchange_helpers import make_rate
from tests.factories import ProfileFactory

pytestmark = pytest.mark.django_db
ALMATY = ZoneInfo("Asia/Almaty")
PRICE = 2_990_000  # 29 900 ₸


def non_resident(currency="USD"):
    return ProfileFactory(is_resident=False, country="US", payment_currency=currency).user


@pytest.fixture
def rates():
    make_rate("USD", date(2026, 11, 20), "520.00")
    make_rate("USD", date(2026, 11, 23), "522.55")
    make_rate("USD", date(2026, 11, 24), "521.18")
    make_rate("EUR", date(2026, 11, 24), "603.45")


def test_a_resident_pays_the_kzt_price(customer, rates):
    conversion = exchange.conversion_for(customer=customer, kzt_amount_minor=PRICE)

    assert (conversion.amount_minor, conversion.currency, conversion.kzt_amount_minor) == (PRICE, "KZT", PRICE)
    assert conversion.rate is None and conversion.source == ""


def test_a_resident_who_once_chose_dollars_still_pays_tenge(rates):
    user = ProfileFactory(is_resident=True, payment_currency="USD").user

    assert exchange.conversion_for(customer=user, kzt_amount_minor=PRICE).currency == "KZT"


@time_machine.travel(datetime(2026, 11, 24, 12, 0, tzinfo=ALMATY), tick=False)
def test_a_non_resident_pays_the_converted_amount_rounded_up(rates):
    conversion = exchange.conversion_for(customer=non_resident(), kzt_amount_minor=PRICE)

    # 29 900 / 521.18 = 57.3698… → $57.37
    assert (conversion.amount_minor, conversion.currency) == (5737, "USD")
    assert conversion.kzt_amount_minor == PRICE
    assert (conversion.rate, conversion.rate_date, conversion.source) == (Decimal("521.18"), date(2026, 11, 24), "nbk")


@time_machine.travel(datetime(2026, 11, 22, 12, 0, tzinfo=ALMATY), tick=False)
def test_on_a_day_without_rates_the_latest_earlier_rate_applies_and_its_date_is_kept(rates):
    conversion = exchange.conversion_for(customer=non_resident(), kzt_amount_minor=PRICE)

    assert conversion.rate_date == date(2026, 11, 20)
    assert conversion.amount_minor == 5750  # 29 900 / 520 = 57.5


def test_renewals_convert_at_the_rate_of_the_renewal_date(rates):
    customer = non_resident()

    on_23rd = exchange.conversion_for(customer=customer, kzt_amount_minor=PRICE, on=date(2026, 11, 23))
    # A renewal due at 00:30 on the 24th in Almaty is 19:30 UTC on the 23rd: Almaty's date counts.
    at_renewal = exchange.conversion_for(customer=customer, kzt_amount_minor=PRICE,
                                         on=datetime(2026, 11, 23, 19, 30, tzinfo=ZoneInfo("UTC")))

    assert (on_23rd.rate, on_23rd.rate_date, on_23rd.amount_minor) == (Decimal("522.55"), date(2026, 11, 23), 5722)
    assert at_renewal.rate_date == date(2026, 11, 24)


def test_a_rate_older_than_the_maximum_age_is_not_used(rates, settings):
    settings.EXCHANGE_RATE_MAX_AGE_DAYS = 3

    with pytest.raises(exchange.RateUnavailable, match="rate for 28.11.2026 is not available") as caught:
        exchange.conversion_for(customer=non_resident(), kzt_amount_minor=PRICE, on=date(2026, 11, 28))
    assert (caught.value.currency, caught.value.on) == ("USD", date(2026, 11, 28))


def test_no_rate_at_all_refuses_with_a_message(db):
    with pytest.raises(exchange.RateUnavailable, match="cannot convert the price to RUB"):
        exchange.conversion_for(customer=non_resident("RUB"), kzt_amount_minor=PRICE, on=date(2026, 11, 24))


@pytest.mark.parametrize("currency", ["KZT", "GBP", ""])
def test_a_non_resident_must_choose_an_offered_currency(currency, rates):
    with pytest.raises(exchange.CurrencyNotChosen, match="one of these currencies: USD, EUR, RUB"):
        exchange.conversion_for(customer=non_resident(currency), kzt_amount_minor=PRICE, on=date(2026, 11, 24))


def test_the_offered_currencies_are_a_setting(settings, rates):
    settings.NONRESIDENT_CURRENCIES = ["EUR"]

    with pytest.raises(exchange.CurrencyNotChosen):
        exchange.conversion_for(customer=non_resident("USD"), kzt_amount_minor=PRICE, on=date(2026, 11, 24))
    assert exchange.currency_choices() == [("KZT", "Kazakhstan tenge (KZT)"), ("EUR", "Euro (EUR)")]


@time_machine.travel(datetime(2026, 11, 24, 12, 0, tzinfo=ALMATY), tick=False)
def test_checkout_stores_currency_amount_kzt_equivalent_rate_date_and_source(documents, plan, rates):
    customer = non_resident("EUR")

    payment = subscriptions.checkout_start(customer=customer, plan=plan, document_ids=[d.pk for d in documents.values()],
                                           token="t1", client_ip="127.0.0.1", user_agent="pytest")

    payment.refresh_from_db()
    # 29 900 / 603.45 = 49.548…, rounded up to €49.55
    assert (payment.currency, payment.amount_minor, payment.kzt_amount_minor) == ("EUR", 4955, PRICE)
    assert (payment.exchange_rate, payment.exchange_rate_date, payment.exchange_rate_source) == (
        Decimal("603.45"), date(2026, 11, 24), "nbk")


def test_checkout_without_a_rate_is_refused_with_the_reason_and_creates_no_payment(documents, plan):
    from billing.models import Payment

    # RateUnavailable, or CheckoutRefused carrying its message once checkout_start translates it.
    with pytest.raises((exchange.RateUnavailable, subscriptions.CheckoutRefused), match="cannot convert the price"):
        subscriptions.checkout_start(customer=non_resident(), plan=plan,
                                     document_ids=[d.pk for d in documents.values()], token="t2",
                                     client_ip=None, user_agent="")
    assert not Payment.objects.exists()


def test_the_review_page_keeps_pay_off_while_there_is_no_rate_and_names_a_staff_rate(client, documents, plan):
    """Pay would only be refused: it stays off, with the reason. Once staff enter the NBK
    rate by hand, the customer reads it as the National Bank's rate, entered by staff."""
    import re

    customer = non_resident()
    client.force_login(customer)
    body = client.get(f"/account/checkout/{plan.code}/", HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert "cannot convert the price" in body
    assert re.search(r'<button type="submit" class="primary"\s+disabled>', body)
    from django.utils import timezone

    make_rate("USD", timezone.localdate(), "523.45", source="manual")
    body = client.get(f"/account/checkout/{plan.code}/", HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert not re.search(r'<button type="submit" class="primary"\s+disabled>', body)
    assert "National Bank of Kazakhstan rate, entered by staff" in body


@time_machine.travel(datetime(2026, 11, 24, 12, 0, tzinfo=ALMATY), tick=False)
def test_changing_residency_applies_from_the_next_payment(customer, rates):
    first = billing.payment_create(
        customer=customer, purpose="checkout", purpose_ref="start", description="Start",
        conversion=exchange.conversion_for(customer=customer, kzt_amount_minor=PRICE), idempotency_key="k1",
    )[0]
    profile = customer.profile
    profile.is_resident, profile.country, profile.payment_currency = False, "DE", "EUR"
    profile.save()

    # The same user object (its cached profile is stale) still gets the new residency.
    second = exchange.conversion_for(customer=customer, kzt_amount_minor=PRICE)

    first.refresh_from_db()
    assert (first.currency, first.amount_minor) == ("KZT", PRICE)
    assert (second.currency, second.amount_minor) == ("EUR", 4955)
