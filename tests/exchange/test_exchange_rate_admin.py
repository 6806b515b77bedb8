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
                                       "quant": "100", "reason": "Feed down; copied from nationalbank.kz"})

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
])
def test_the_manual_entry_form_refuses_incomplete_or_invalid_rates(admin_client, data, error):
    form = {"currency": "USD", "rate_date": "2026-11-24", "published": "521.18", "quant": "1",
            "reason": "Feed down", **data}

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
    assert response.context["adminform"].form.errors
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
