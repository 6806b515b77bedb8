"""Staff see rates in the admin and enter one by hand with a reason (an event)."""

from datetime import date
from decimal import Decimal

import pytest
from django.urls import reverse

import billing.admin_rates  # noqa: F401  (registered by billing/admin.py once it imports it)
from billing.models import ExchangeRate
from soldee.models import Event
from tests.exchange.exchange_helpers import make_rate

pytestmark = pytest.mark.django_db


def test_staff_see_the_rates_list(admin_client):
    make_rate("USD", date(2026, 11, 24), "521.18")

    response = admin_client.get(reverse("admin:billing_exchangerate_changelist"))

    assert response.status_code == 200
    assert [(r.currency, r.kzt_per_unit) for r in response.context["cl"].result_list] == [("USD", Decimal("521.18"))]


def test_staff_enter_a_rate_by_hand_with_a_reason(admin_client, admin_user, settings):
    settings.NONRESIDENT_CURRENCIES = ["USD", "UZS"]

    response = admin_client.post(reverse("admin:billing_exchangerate_add"), {"currency": "UZS", "rate_date": "2026-11-24", "published": "4.33",
                                       "quant": "100", "reason": "Feed down; copied from nationalbank.kz",
                                       "confirm_jump": "on"})  # the first UZS rate: checked by hand

    assert response.status_code == 302, response.content
    rate = ExchangeRate.objects.get()
    assert (rate.currency, rate.kzt_per_unit, rate.quant, rate.source, rate.entered_by) == (
        "UZS", Decimal("0.0433"), 100, "manual", admin_user)
    event = Event.objects.get(verb="exchange_rate.entered")
    assert event.actor == admin_user
    assert event.data["reason"] == "Feed down; copied from nationalbank.kz"
    assert (event.subject_type, event.subject_id) == ("billing.exchangerate", str(rate.pk))


@pytest.mark.parametrize(("data", "error"), [
    ({"reason": ""}, "reason"),
    ({"currency": "GBP"}, "currency"),
    ({"published": "0"}, "published"),
    ({"quant": "0"}, "quant"),  # was a server error
    ({"quant": "-5"}, "quant"),
])
def test_the_manual_entry_form_refuses_incomplete_or_invalid_rates(admin_client, data, error):
    form = {"currency": "USD", "rate_date": "2026-11-24", "published": "521.18", "quant": "1",
            "reason": "Feed down", "confirm_jump": "on", **data}

    response = admin_client.post(reverse("admin:billing_exchangerate_add"), form)

    assert response.status_code == 200
    assert list(response.context["adminform"].form.errors) == [error]
    assert not ExchangeRate.objects.exists()
    assert not Event.objects.filter(verb="exchange_rate.entered").exists()


def test_a_second_rate_for_the_same_day_is_refused(admin_client):
    make_rate("USD", date(2026, 11, 24), "521.18")

    response = admin_client.post(reverse("admin:billing_exchangerate_add"), {"currency": "USD", "rate_date": "2026-11-24", "published": "530",
                                       "quant": "1", "reason": "typo"})

    assert response.status_code == 200
    assert response.context["adminform"].form.errors == {"rate_date": [
        "A rate for USD of 24.11.2026 is already stored: 521.18 ₸ per unit. Stored rates are never changed "
        "(payments may have been charged at it)."]}
    assert ExchangeRate.objects.get().kzt_per_unit == Decimal("521.18")


def test_a_stored_rate_cannot_be_changed_or_deleted(admin_client):
    rate = make_rate("USD", date(2026, 11, 24), "521.18")

    view = admin_client.get(reverse("admin:billing_exchangerate_change", args=[rate.pk]))
    admin_client.post(reverse("admin:billing_exchangerate_change", args=[rate.pk]),
                      {"currency": "USD", "rate_date": "2026-11-24", "kzt_per_unit": "1", "quant": "1"})
    delete = admin_client.post(reverse("admin:billing_exchangerate_delete", args=[rate.pk]), {"post": "yes"})

    assert view.status_code == 200 and view.context["adminform"].form.instance == rate
    assert delete.status_code == 403
    rate.refresh_from_db()
    assert rate.kzt_per_unit == Decimal("521.18")


def test_a_rate_far_from_the_previous_one_needs_a_confirmation(admin_client, admin_user):
    make_rate("EUR", date(2026, 11, 23), "600.10")
    typo = {"currency": "EUR", "rate_date": "2026-11-24", "published": "6001.0", "quant": "1",
            "reason": "Feed down"}

    response = admin_client.post(reverse("admin:billing_exchangerate_add"), typo)

    assert response.status_code == 200
    errors = response.context["adminform"].form.errors
    assert list(errors) == ["confirm_jump"] and "900% away from the rate of 23.11.2026" in errors["confirm_jump"][0]
    assert not ExchangeRate.objects.filter(rate_date=date(2026, 11, 24)).exists()
    # A round figure reads as a number (found by the staff explorer: "7E+2 ₸ per 1 USD").
    response = admin_client.post(reverse("admin:billing_exchangerate_add"), {**typo, "published": "6000"})
    assert "6,000.00 ₸ per 1 EUR" in response.context["adminform"].form.errors["confirm_jump"][0]
    assert "(600.10 ₸)" in response.context["adminform"].form.errors["confirm_jump"][0]

    response = admin_client.post(reverse("admin:billing_exchangerate_add"), {**typo, "confirm_jump": "on"})
    assert response.status_code == 302
    assert Event.objects.get(verb="exchange_rate.entered").data["jump_confirmed"] is True


def test_a_rate_for_a_date_the_bank_has_not_published_is_refused(admin_client):
    import time_machine

    with time_machine.travel("2026-11-24 12:00 +05:00", tick=False):
        later = admin_client.post(reverse("admin:billing_exchangerate_add"), {
            "currency": "USD", "rate_date": "2027-06-01", "published": "1.0", "quant": "1", "reason": "x"})
        tomorrow = admin_client.post(reverse("admin:billing_exchangerate_add"), {
            "currency": "USD", "rate_date": "2026-11-25", "published": "521", "quant": "1", "reason": "published",
            "confirm_jump": "on"})

    assert list(later.context["adminform"].form.errors) == ["rate_date"]
    assert tomorrow.status_code == 302
    assert list(ExchangeRate.objects.values_list("rate_date", flat=True)) == [date(2026, 11, 25)]


def test_the_service_refuses_an_unconfirmed_jump_too(admin_user):
    from billing import exchange

    make_rate("USD", date(2026, 11, 23), "521.18")
    with pytest.raises(exchange.ManualRateRefused):
        exchange.rate_enter_manually(currency="USD", rate_date=date(2026, 11, 24), published=Decimal("52.118"),
                                     quant=1, reason="typo", by=admin_user)
    assert ExchangeRate.objects.count() == 1


def test_a_rate_filled_in_for_a_past_day_is_checked_against_the_day_after_too(admin_user):
    from billing import exchange

    make_rate("USD", date(2026, 11, 24), "521.18")  # no earlier rate stored
    with pytest.raises(exchange.ManualRateRefused, match="away from the rate of 24.11.2026"):
        exchange.rate_enter_manually(currency="USD", rate_date=date(2026, 11, 23), published=Decimal("5211.8"),
                                     quant=1, reason="back-fill", by=admin_user)
    rate = exchange.rate_enter_manually(currency="USD", rate_date=date(2026, 11, 23), published=Decimal("520.40"),
                                        quant=1, reason="back-fill", by=admin_user)
    assert rate.kzt_per_unit == Decimal("520.40")


def test_the_first_rate_of_a_currency_shows_what_a_price_becomes_and_needs_a_confirmation(
        admin_client, plan, settings):
    """Nothing to compare a typo with: EUR 0.0001 would have made ₸29,900 cost €299,000,000."""
    settings.NONRESIDENT_CURRENCIES = ["USD", "EUR"]
    form = {"currency": "EUR", "rate_date": "2026-11-24", "published": "0.0001", "quant": "1", "reason": "typo"}
    response = admin_client.post(reverse("admin:billing_exchangerate_add"), form)
    assert response.status_code == 200 and not ExchangeRate.objects.exists()
    text = response.content.decode()
    assert "no earlier rate of EUR" in text and "€299,000,000" in text
    assert admin_client.post(reverse("admin:billing_exchangerate_add"),
                             {**form, "published": "590.10", "confirm_jump": "on"}).status_code == 302
    assert ExchangeRate.objects.get().kzt_per_unit == Decimal("590.10")
