"""`make run`'s demo data lets a newcomer buy as a non-resident too: today's rates, marked
as demo rates (found by the customer explorer: the pay button stayed disabled offline)."""

import io

import pytest
from django.core.management import call_command
from django.utils import timezone

from billing.exchange import quote_for
from billing.models import ExchangeRate
from tests.factories import ProfileFactory

pytestmark = pytest.mark.django_db


def test_the_demo_has_todays_rates_once_and_a_non_resident_gets_a_quote():
    out = io.StringIO()
    call_command("seed_demo", stdout=out)
    assert "Demo exchange rates for today (USD, EUR, RUB)" in out.getvalue()
    rates = ExchangeRate.objects.filter(rate_date=timezone.localdate())
    assert sorted(rates.values_list("currency", flat=True)) == ["EUR", "RUB", "USD"]
    assert all(r.reason.startswith("Demo rate") and r.source == "manual" for r in rates)
    call_command("seed_demo", stdout=io.StringIO())  # again: nothing new
    assert rates.count() == 3
    customer = ProfileFactory(is_resident=False, country="DE", iin_bin="", payment_currency="USD").user
    conversion, _why = quote_for(customer=customer, kzt_amount_minor=2_990_000)
    assert conversion is not None and conversion.currency == "USD"
