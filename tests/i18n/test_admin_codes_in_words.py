"""Staff read the admin in Russian or Kazakh without stored codes or English in their way:
event timelines name each event in words (its code beside it: staff search the event log
by it) and its coded details in words; the refund evaluation's dates as the language writes
them, in Almaty time; the user page's section titles; the payment gateway by its name.
What the event log stores is not touched: only how it is shown."""

import re

import pytest
from django.utils import formats, timezone, translation

from billing.gateways import display_name
from refunds import services as refunds
from soldee import events
from tests.billing.helpers import buy

pytestmark = pytest.mark.django_db

LANGUAGES = ["ru", "kk"]


def _in(language, text) -> str:
    with translation.override(language):
        return str(translation.gettext(text))


def _timeline(html: str) -> str:
    return html.split("field-timeline")[1].split("</ul>")[0]


@pytest.fixture
def no_access_request(customer, plan, documents):
    """A paid purchase never given access, a refund asked on that ground, and a second
    gateway transaction marked on the payment (an event that had no wording for staff)."""
    payment = buy(customer, plan, documents)
    events.record(verb=events.SECOND_TRANSACTION, subject=payment, customer=customer.pk,
                  data={"gateway_ref": "txn-2", "first": "k-1"})
    return refunds.refund_request_create(customer=customer, payment_id=payment.pk, ground="no_access",
                                         explanation="No access at all")


@pytest.mark.parametrize("language", LANGUAGES)
def test_the_refund_evaluation_writes_dates_as_the_language_does_in_almaty_time(staff_in, no_access_request,
                                                                                language):
    html = staff_in(language).get(f"/admin/refunds/refundrequest/{no_access_request.pk}/change/").content.decode()
    evaluation = html.split("field-current_evaluation")[1].split("field-created_at")[0]
    paid_at = timezone.localtime(no_access_request.payment.paid_at)
    with translation.override(language):
        assert formats.date_format(paid_at, "DATETIME_FORMAT") in evaluation
    assert paid_at.strftime("%Y-%m-%d") not in evaluation and "+05" not in evaluation


def test_the_stored_recommendation_writes_dates_in_the_staff_language(settings, customer, plan, documents):
    settings.STAFF_RECORDS_LANGUAGE = "ru"
    request = refunds.refund_request_create(customer=customer, payment_id=buy(customer, plan, documents).pk,
                                            ground="no_access", explanation="No access")
    text = " ".join(request.evaluation["evidence"])
    paid_at = timezone.localtime(request.payment.paid_at)
    with translation.override("ru"):
        assert formats.date_format(paid_at, "DATETIME_FORMAT") in text
    assert paid_at.strftime("%Y-%m-%d") not in text


@pytest.mark.parametrize("language, permissions, dates", [
    ("ru", "Права доступа", "Важные даты"),
    ("kk", "Құқықтар", "Маңызды күндер"),
])
def test_the_user_page_s_section_titles_are_translated(staff_in, customer, language, permissions, dates):
    html = staff_in(language).get(f"/admin/accounts/user/{customer.pk}/change/").content.decode()
    headings = [h.strip() for h in re.findall(r'<h2[^>]*class="fieldset-heading"[^>]*>(.*?)</h2>', html, re.S)]
    assert permissions in headings and dates in headings
    assert "Permissions" not in headings and "Dates" not in headings


@pytest.mark.parametrize("language", LANGUAGES)
def test_the_payment_and_card_pages_name_the_gateway(staff_in, customer, plan, documents, language):
    """The gateway's stored "sandbox" read as the gateway filter names it."""
    from billing.models import IncomingNotification, PaymentMethod

    payment = buy(customer, plan, documents)
    card = PaymentMethod.objects.get(customer=customer)
    IncomingNotification.objects.create(gateway="sandbox", event_type="pay", event_id="evt-1", body="{}")
    with translation.override(language):
        name = str(display_name("sandbox"))
    assert name not in ("sandbox", "Test gateway (sandbox)")
    client = staff_in(language)
    pages = [f"/admin/billing/payment/{payment.pk}/change/", f"/admin/billing/paymentmethod/{card.pk}/change/",
             "/admin/billing/paymentmethod/", "/admin/billing/incomingnotification/"]
    for url in pages:
        html = client.get(url).content.decode()
        shown = re.findall(r'(?:<td class="field-gateway_name">|<div class="readonly">)([^<]*)<', html)
        assert name in shown, url
        assert "sandbox" not in shown and 'class="field-gateway"' not in html, url
