"""The admin timelines' event details read by staff in Russian and Kazakh: money in the
payment's currency, every detail key labelled, coded values and ids in words. What the
event log stores is not touched: only how it is shown."""

import re
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


def _in(language, text, context=None) -> str:
    with translation.override(language):
        return str(translation.pgettext(context, text) if context else translation.gettext(text))


@pytest.mark.parametrize("language", LANGUAGES)
def test_timeline_details_are_labelled_and_coded_values_read_in_words(staff_in, customer, plan, documents, staff,
                                                                      language):
    """Found by the staff explorer: "severity", "since", "attachment" (an error report),
    "full", "note" (an approval), "attempt" (a refund sent to the gateway) in English;
    "source: lookup"; "documents: 2025-11-01, 2025-11-01, 2025-11-01"."""
    from datetime import timedelta

    from django.core.files.uploadedfile import SimpleUploadedFile

    payment = buy(customer, plan, documents)
    report = refunds.error_report_create(customer=customer, what_fails="down", severity="blocker",
                                         since=timezone.now() - timedelta(hours=1),
                                         attachment=SimpleUploadedFile("shot.png", b"\x89PNG\r\n", "image/png"))
    request = refunds.refund_request_create(customer=customer, payment_id=payment.pk, ground="no_access",
                                            explanation="No access")
    refund = refunds.refund_request_approve(request_id=request.pk, by=staff, note="Sorry")
    refunds.refund_execute(refund_id=refund.pk)
    client = staff_in(language)
    timeline = _timeline(client.get(f"/admin/refunds/refundrequest/{request.pk}/change/").content.decode())
    for label in ("full refund", "note", "try"):
        assert f"{_in(language, label)}: " in timeline, label
    assert f"{_in(language, 'source')}: {_in(language, 'a check at the payment gateway')}" in timeline
    assert "source: " not in timeline and ": lookup" not in timeline
    with translation.override(language):
        named = [str(translation.gettext("%(document)s, version %(label)s") % {"document": d.get_kind_display(),
                                                                                "label": d.label})
                 for d in sorted(documents.values(), key=lambda d: ["offer", "privacy", "terms"].index(d.kind))]
    assert f"{_in(language, 'documents')}: {', '.join(named)}" in timeline
    report_page = _timeline(client.get(f"/admin/refunds/errorreport/{report.pk}/change/").content.decode())
    for label in ("severity", "since when", "attachment"):
        assert f"{_in(language, label)}: " in report_page, label
    for english in ("full: ", "note: ", "attempt: ", "severity: ", "since: ", "attachment: "):
        assert english not in timeline + report_page


def _recorded_data_keys() -> set[str]:
    """The keys of the data dicts the portal's code gives events.record / events.build."""
    import re

    from tests.i18n.portal_sources import portal_sources

    keys = set()
    for source in portal_sources():
        for call in re.finditer(r"events\.(?:record|build)\(", source):
            data = re.search(r"data=\{", source[call.end():call.end() + 800])
            if data is None:
                continue
            start, depth = call.end() + data.end() - 1, 0
            for end in range(start, len(source)):
                depth += {"{": 1, "}": -1}.get(source[end], 0)
                if depth == 0:
                    break
            keys.update(re.findall(r'"([a-z_0-9]+)":', source[start:end]))
    # Added to a data dict built beforehand (refunds._await_bank_transfer, renewals' deferral).
    keys.update({"paid_by", "card_refused", "gateway_error", "checked_at_gateway", "past_due", "card"})
    return keys


def test_every_data_key_the_portal_records_in_events_has_a_label_for_staff():
    from refunds.admin import EVENT_DATA_LABELS
    from soldee.field_labels import FIELD_LABELS

    keys = _recorded_data_keys()
    assert {"amount_minor", "severity", "since", "attachment", "full", "note", "attempt", "source"} <= keys
    assert len(keys) > 80
    assert sorted(key for key in keys if key.removesuffix("_minor") not in EVENT_DATA_LABELS
                  and key.removesuffix("_minor") not in FIELD_LABELS) == []


@pytest.mark.parametrize("language", LANGUAGES)
def test_access_granted_names_the_paid_term_by_its_number_not_its_row_id(staff_in, customer, other_customer, plan,
                                                                         documents, language):
    """Found by the staff explorer: "access.granted оплаченный срок: 2" (the term's row id)
    beside "term.started номер: 1"."""
    from subscriptions.models import AccessGrant, Term
    from subscriptions.services import access_mark_granted

    buy(other_customer, plan, documents, token="tok-other")  # its term takes row id 1
    payment = buy(customer, plan, documents)
    term = Term.objects.get(payment=payment)
    assert term.number == 1 and term.pk != 1  # its row id is not its number (PostgreSQL's ids run on)
    grant = AccessGrant.objects.get(term=term)
    access_mark_granted(grant_id=grant.pk, platform_ref="platform")
    assert Event.objects.get(verb="access.granted", subject_id=str(grant.pk)).data["term"] == term.pk  # stored so
    request = refunds.refund_request_create(customer=customer, payment_id=payment.pk, ground="no_access",
                                            explanation="No access")
    timeline = _timeline(staff_in(language).get(f"/admin/refunds/refundrequest/{request.pk}/change/").content.decode())
    granted = timeline.split("(access.granted)")[1].split("</li>")[0]
    assert f"{_in(language, 'paid term')}: 1;" in granted
    assert f"{_in(language, 'paid term')}: {term.pk}" not in granted


@pytest.mark.parametrize("language", LANGUAGES)
def test_the_event_log_names_subject_models_by_name_and_finds_them_by_code(staff_in, customer, language):
    """Found by the staff explorer: "accounts.customerprofile", "refunds.refund" in the event
    log's subject column and its filter."""
    import re

    from django.utils.text import capfirst

    from accounts.models import CustomerProfile
    from soldee import events

    events.record(verb="profile.updated", subject=customer.profile, customer=customer, data={"fields": ["phone"]})
    with translation.override(language):
        name = str(capfirst(CustomerProfile._meta.verbose_name))
    assert name.lower() not in ("customer profile", "accounts.customerprofile")
    client = staff_in(language)
    log = client.get("/admin/soldee/event/").content.decode()
    assert re.search(rf'<td class="field-subject"><span title="accounts.customerprofile">{re.escape(name)}</span>',
                     log)
    assert "<td class=\"field-subject_type\">" not in log
    types = next(spec for spec in client.get("/admin/soldee/event/").context["cl"].filter_specs
                 if getattr(spec, "parameter_name", None) == "subject_type")
    assert ("accounts.customerprofile", f"{name} (accounts.customerprofile)") in types.lookup_choices
    assert client.get("/admin/soldee/event/?subject_type=accounts.customerprofile").context["cl"].result_count == 1
    assert client.get("/admin/soldee/event/?q=accounts.customerprofile").context["cl"].result_count == 1


@pytest.mark.parametrize("language", LANGUAGES)
def test_staff_titles_and_the_payment_page_read_codes_in_words(staff_in, customer, plan, documents, language):
    """Found by the staff explorer: an acceptance titled "h6kk@example.com start 2026-11-30
    21:56" (the plan's code, an ISO date); the payment page's "rate source: demo", "purpose
    reference: business" and its documents as raw JSON."""
    import html as html_lib

    from django.utils import formats

    from offer.models import Acceptance

    payment = buy(customer, plan, documents)
    type(payment).objects.filter(pk=payment.pk).update(exchange_rate_source="demo")  # a demo-rate payment
    acceptance = Acceptance.objects.get(payment=payment)
    client = staff_in(language)
    page = html_lib.unescape(client.get(f"/admin/offer/acceptance/{acceptance.pk}/change/").content.decode())
    with translation.override(language):
        accepted = formats.date_format(timezone.localtime(acceptance.accepted_at), "DATETIME_FORMAT")
        title = f"{customer.email} «Start» {accepted}"
        demo = str(translation.gettext("demo rate, not from the National Bank of Kazakhstan"))
        offer = documents["offer"]
        named = str(translation.gettext("%(document)s, version %(label)s") % {
            "document": offer.get_kind_display(), "label": offer.label})
    assert title in page and " start " not in page
    payment_page = client.get(f"/admin/billing/payment/{payment.pk}/change/").content.decode()
    shown = [html_lib.unescape(v).strip() for v in re.findall(r'<div class="readonly">(.*?)</div>\s*</div>',
                                                             payment_page, re.S)]
    assert demo in shown and "demo" not in shown
    assert "«Start» (start)" in shown and "start" not in shown
    assert any(f"<div>{named}</div>" in value for value in shown)
    assert not any('"sha256"' in value for value in shown)


@pytest.mark.parametrize("language", LANGUAGES)
def test_access_grant_and_data_export_titles_read_their_status_and_term_in_words(staff_in, customer, other_customer,
                                                                                plan, documents, language):
    """"customer@… term 2: pending" (the term's row id, the status code) and an export's
    "2026-11-30 21:56 requested" as page titles."""
    from django.utils import formats

    from accounts import personal_data
    from subscriptions.models import AccessGrant

    buy(other_customer, plan, documents, token="tok-other")
    grant = AccessGrant.objects.get(term__payment=buy(customer, plan, documents))
    assert grant.term.number == 1 and grant.term_id != 1  # (PostgreSQL's ids run on across tests)
    export = personal_data.data_export_request(customer=customer)
    client = staff_in(language)
    grant_page = client.get(f"/admin/subscriptions/accessgrant/{grant.pk}/change/").content.decode()
    export_page = client.get(f"/admin/accounts/dataexport/{export.pk}/change/").content.decode()
    with translation.override(language):
        grant_title = str(translation.gettext("%(customer)s, paid term %(number)s: %(status)s") % {
            "customer": customer.email, "number": 1, "status": grant.get_status_display()})
        export_title = (f"{customer.email} {formats.date_format(timezone.localtime(export.requested_at), 'DATETIME_FORMAT')}"
                        f" {export.get_status_display()}")
    assert grant_title != f"{customer.email}, paid term 1: {grant.get_status_display()}"
    assert f"<title>{grant_title} |" in grant_page
    assert f"<title>{export_title} |" in export_page
