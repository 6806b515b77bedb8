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
from soldee.models import Event
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
def test_a_timeline_names_events_and_coded_details_in_words_with_the_code_beside(staff_in, no_access_request,
                                                                                 language):
    """Found by the staff review: "payment.second_transaction" in bold and again in brackets,
    and "ground: no_access"."""
    stored = list(Event.objects.values_list("verb", "data"))
    html = staff_in(language).get(f"/admin/refunds/refundrequest/{no_access_request.pk}/change/").content.decode()
    timeline = _timeline(html)
    second = _in(language, "A second gateway transaction for one payment: to be refunded")
    assert second != "A second gateway transaction for one payment: to be refunded"
    assert f'<strong title="payment.second_transaction">{second}</strong>' in timeline
    assert "(payment.second_transaction)" in timeline  # the code stays visible
    ground = _in(language, "Access to the service was not granted")
    assert f"{_in(language, 'ground')}: {ground}" in timeline
    assert "no_access" not in timeline
    assert list(Event.objects.values_list("verb", "data")) == stored  # shown in words, stored as it was


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


@pytest.mark.parametrize("language", LANGUAGES)
def test_the_event_log_and_the_test_clock_name_events_in_words_with_their_code(staff_in, settings, customer,
                                                                              language):
    settings.SOLDEE_TEST_CLOCK_ENABLED = True
    events.record(verb="card.erased", subject=customer, customer=customer, data={"card_mask": "4242 **** 4242"})
    erased = _in(language, "The customer's saved card was erased")
    assert erased != "The customer's saved card was erased"
    client = staff_in(language)
    log = client.get("/admin/soldee/event/").content.decode()
    assert re.search(rf'<td class="field-event">{re.escape(erased)} <span class="quiet">\(card\.erased\)</span>', log)
    verbs = next(spec for spec in client.get("/admin/soldee/event/").context["cl"].filter_specs
                 if getattr(spec, "parameter_name", None) == "verb")
    assert ("card.erased", f"{erased} (card.erased)") in verbs.lookup_choices
    assert client.get("/admin/soldee/event/?verb=card.erased").context["cl"].result_count == 1
    assert client.get("/admin/soldee/event/?q=card.erased").context["cl"].result_count == 1  # searched by its code
    clock = client.get(f"/admin/test-clock/?customer={customer.pk}").content.decode()
    events_shown = clock.split('id="customer-events"')[1].split("</ul>")[0]
    assert f'<span title="card.erased">{erased}</span> <code>card.erased</code>' in events_shown


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


def test_every_event_the_portal_records_has_a_wording_for_staff():
    """The timelines fall back to the code for an event with no wording: none is left so."""
    from soldee.event_texts import staff_text
    from tests.i18n.portal_sources import portal_sources

    recorded = set()
    for source in portal_sources():
        for call in re.findall(r'verb=("[a-z_.]+"(?: if .+? else "[a-z_.]+")?)', source):
            recorded.update(re.findall(r'"([a-z_]+\.[a-z_]+)"', call))
    from soldee.test_clock import VERB
    from subscriptions.renewals import DEFERRAL_NOTICE

    recorded.update({*events.UNAPPLIED_PAYMENT_VERBS, VERB, DEFERRAL_NOTICE})  # recorded by their constants
    recorded.update(f"document.{kind}_{done}" for kind in ("receipt", "refund_note", "invoice")
                    for done in ("issued", "rendered"))  # f"document.{doc_type}_…"
    recorded.update(f"agreement_copy.{status}" for status in ("ready", "printed", "posted"))  # f"…{to}"
    assert len(recorded) > 60
    assert sorted(verb for verb in recorded if not staff_text(verb)) == []
