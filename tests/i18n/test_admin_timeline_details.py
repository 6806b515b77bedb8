"""The admin timelines' event details read by staff in Russian and Kazakh: money in the
payment's currency, every detail key labelled, coded values and ids in words. What the
event log stores is not touched: only how it is shown."""

from decimal import Decimal

import pytest
from django.utils import timezone, translation

from refunds import services as refunds
from soldee.models import Event
from tests.billing.helpers import buy

pytestmark = pytest.mark.django_db

LANGUAGES = ["ru", "kk"]


def _timeline(html: str) -> str:
    return html.split("field-timeline")[1].split("</ul>")[0]


@pytest.fixture
def euro_customer(customer):
    from billing.models import ExchangeRate

    profile = customer.profile
    profile.is_resident, profile.country, profile.payment_currency, profile.iin_bin = False, "DE", "EUR", ""
    profile.save()
    ExchangeRate.objects.create(currency="EUR", rate_date=timezone.localdate(), kzt_per_unit=Decimal("225"),
                                source="nbk")
    return customer


@pytest.fixture
def euro_refund(euro_customer, plan, documents, staff):
    payment = buy(euro_customer, plan, documents)
    assert payment.currency == "EUR"
    request = refunds.refund_request_create(customer=euro_customer, payment_id=payment.pk, ground="no_access",
                                            explanation="No access at all")
    return refunds.refund_request_approve(request_id=request.pk, by=staff)


@pytest.mark.parametrize("language", LANGUAGES)
def test_a_refund_of_a_euro_payment_shows_euros_in_the_timeline(staff_in, euro_refund, language):
    """Found by the staff explorer: "refund.created … сома: 132,92 ₸" for a €132.92 payment
    (the refund's event data named no currency, and the timeline took tenge)."""
    from soldee import events
    from soldee.money import format_money

    # As refunds recorded it before the currency was in the data.
    events.record(verb="refund.succeeded", subject=euro_refund, customer=euro_refund.customer_id,
                  data={"amount_minor": euro_refund.amount_minor, "gateway_ref": "r-1", "full": True})
    html = staff_in(language).get(f"/admin/refunds/refundrequest/{euro_refund.request_id}/change/").content.decode()
    timeline = _timeline(html)
    with translation.override(language):
        euros = format_money(euro_refund.amount_minor, "EUR")
    for verb in ("refund.created", "refund.succeeded"):
        shown = timeline.split(f"({verb})")[1].split("</li>")[0]
        assert euros in shown and "₸" not in shown, verb
    refund_page = staff_in(language).get(f"/admin/refunds/refund/{euro_refund.pk}/change/").content.decode()
    shown = _timeline(refund_page).split("(refund.succeeded)")[1].split("</li>")[0]
    assert euros in shown and "₸" not in shown


def test_a_new_refund_event_records_its_currency(euro_refund):
    data = Event.objects.get(verb="refund.created", subject_id=str(euro_refund.pk)).data
    assert data["currency"] == "EUR"
