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


@pytest.fixture(autouse=True)
def embedded(settings):
    settings.EMBEDDED = True  # the demo's own mode (make run); the PostgreSQL run is production-like


def test_production_gets_no_demo_staff_login_and_no_demo_rates(settings):
    """A superuser whose password is published (whoever logs in first sets up its second
    factor) and made-up rates customers would be charged at: refused outside the demo."""
    from django.contrib.auth import get_user_model
    from django.core.management.base import CommandError

    settings.EMBEDDED, settings.DEBUG = False, False
    out = io.StringIO()
    with pytest.raises(CommandError, match="--no-staff"):
        call_command("seed_demo", stdout=out)
    assert out.getvalue() == ""  # refused before it says (or writes) anything
    assert not get_user_model().objects.filter(is_staff=True).exists()
    assert not ExchangeRate.objects.exists()
    call_command("seed_demo", "--no-staff", stdout=io.StringIO())  # plans and documents: fine
    from plans.models import Plan

    assert Plan.objects.filter(code="start").exists()


def test_the_demo_has_todays_rates_once_and_a_non_resident_gets_a_quote():
    out = io.StringIO()
    call_command("seed_demo", stdout=out)
    assert "Demo exchange rates for today (USD, EUR, RUB)" in out.getvalue()
    rates = ExchangeRate.objects.filter(rate_date=timezone.localdate())
    assert sorted(rates.values_list("currency", flat=True)) == ["EUR", "RUB", "USD"]
    assert all(r.reason.startswith("Demo rate") and r.source == "demo" for r in rates)
    call_command("seed_demo", stdout=io.StringIO())  # again: nothing new
    assert rates.count() == 3
    customer = ProfileFactory(is_resident=False, country="DE", iin_bin="", payment_currency="USD").user
    conversion, _why = quote_for(customer=customer, kzt_amount_minor=2_990_000)
    assert conversion is not None and conversion.currency == "USD"


def test_a_customer_reads_a_demo_rate_as_a_demo_rate_not_as_the_national_banks():
    """The demo rates were stored as 'manual' and shown as 'National Bank of Kazakhstan rate,
    entered by staff': made-up numbers passed off as official ones."""
    from django.template import Context, Template
    from django.test import RequestFactory
    from django.utils import translation

    from billing import services as billing
    from billing.templatetags.exchange import payment_exchange

    call_command("seed_demo", stdout=io.StringIO())
    customer = ProfileFactory(is_resident=False, country="DE", iin_bin="", payment_currency="USD").user
    request = RequestFactory().get("/")
    request.user = customer
    conversion, _why = quote_for(customer=customer, kzt_amount_minor=2_990_000)
    payment = billing.payment_create(customer=customer, purpose="checkout", purpose_ref="demo", description="Demo",
                                     conversion=conversion, idempotency_key="demo-rate")[0]
    assert payment.exchange_rate_source == "demo"
    for language, demo, official in (
            ("en", "demo rate, not from the National Bank of Kazakhstan", "entered by staff"),
            ("ru", "демонстрационный курс, не курс Национального банка Казахстана", "внесён сотрудником"),
            ("kk", "демонстрациялық бағам, Қазақстан Ұлттық Банкінің бағамы емес", "қызметкер енгізген")):
        with translation.override(language):
            price = Template("{% load exchange %}{% price_for_customer 2990000 %}").render(Context({"request": request}))
            described = payment_exchange(payment)
        for text in (price, described):
            assert demo in text and official not in text, (language, text)
