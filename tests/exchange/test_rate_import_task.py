"""The daily Celery task: imports, retries network trouble, alerts staff, never half-imports."""

from datetime import date

import httpx
import pytest
import respx
import time_machine
from django.core import mail

from billing import rate_tasks
from billing.models import ExchangeRate
from tests.exchange.exchange_helpers import FEED, feed_file, make_rate

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def alerts_sent_at_once(monkeypatch):
    """The alert goes from the retried staff_alert task: here a worker takes it at once."""
    from soldee.tasks import staff_alert

    monkeypatch.setattr(staff_alert, "delay", lambda *args: staff_alert.apply(args=args))


def test_an_alert_that_cannot_be_queued_is_tried_again_on_the_next_run(monkeypatch):
    from billing import exchange
    from soldee.tasks import staff_alert

    def broker_down(*args):
        raise OSError("broker down")

    monkeypatch.setattr(staff_alert, "delay", broker_down)
    with pytest.raises(OSError):
        exchange.alert_staff(subject="NBK rates refused", body="why")
    monkeypatch.setattr(staff_alert, "delay", lambda *args: staff_alert.apply(args=args))
    assert exchange.alert_staff(subject="NBK rates refused", body="why") is True  # not "already sent today"
    assert [m.subject for m in mail.outbox] == ["[Soldee staff] NBK rates refused"]


@respx.mock
@time_machine.travel("2026-11-24 00:10 +05:00", tick=False)
def test_imports_todays_rates_in_almaty():
    route = respx.get(FEED, params={"fdate": "24.11.2026"}).mock(
        return_value=httpx.Response(200, content=feed_file("nbk_2026-11-24.xml")))

    assert rate_tasks.nbk_rates_import() == "imported"
    assert route.called
    assert ExchangeRate.objects.filter(rate_date=date(2026, 11, 24)).count() == 3
    assert mail.outbox == []


@respx.mock
@time_machine.travel("2026-11-24 23:50 +05:00", tick=False)
def test_network_trouble_is_retried_later_for_the_same_date_without_alerting(monkeypatch):
    respx.get(FEED).mock(side_effect=httpx.ConnectTimeout("slow"))
    retries = []

    class Retry(Exception):
        pass

    def fake_retry(**kwargs):
        retries.append(kwargs)
        return Retry()

    monkeypatch.setattr(rate_tasks.nbk_rates_import, "retry", fake_retry)

    with pytest.raises(Retry):
        rate_tasks.nbk_rates_import()

    assert retries[0]["args"] == ["2026-11-24"]  # a retry after midnight keeps the date
    assert "ConnectTimeout" in str(retries[0]["exc"])
    assert mail.outbox == []
    assert ExchangeRate.objects.count() == 0


@respx.mock
def test_after_the_last_retry_staff_are_alerted():
    respx.get(FEED).mock(side_effect=httpx.ConnectTimeout("slow"))

    result = rate_tasks.nbk_rates_import.apply(args=["2026-11-24"], retries=rate_tasks.nbk_rates_import.max_retries)

    assert result.get() == "unavailable"
    assert len(mail.outbox) == 1
    assert mail.outbox[0].subject == "[Soldee staff] NBK rates for 24.11.2026 not imported"
    assert "ConnectTimeout" in mail.outbox[0].body


@respx.mock
@pytest.mark.parametrize(("name", "why"), [
    ("nbk_truncated.xml", "not well-formed XML"),
    ("nbk_zero_rub.xml", "RUB has an absurd rate"),
])
def test_a_malformed_or_absurd_answer_alerts_staff_at_once_and_imports_nothing(name, why):
    respx.get(FEED).mock(return_value=httpx.Response(200, content=feed_file(name)))

    assert rate_tasks.nbk_rates_import("2026-11-24") == "refused"

    assert ExchangeRate.objects.count() == 0
    assert len(mail.outbox) == 1
    assert mail.outbox[0].subject == "[Soldee staff] NBK rates for 24.11.2026 refused"
    assert why in mail.outbox[0].body
    # The next run the same day does not repeat the same alert.
    rate_tasks.nbk_rates_import("2026-11-24")
    assert len(mail.outbox) == 1


@respx.mock
def test_a_refused_import_alerts_in_the_staff_language_and_still_once_a_day_when_it_changes(settings):
    """The alert is written in STAFF_RECORDS_LANGUAGE, not the language active where the
    import runs; its once-a-day key does not depend on the language it is written in."""
    from django.utils import translation

    from tests.soldee.test_staff_alert_language import in_russian

    respx.get(FEED).mock(return_value=httpx.Response(200, content=feed_file("nbk_truncated.xml")))
    settings.STAFF_RECORDS_LANGUAGE = "ru"
    with translation.override("kk"):
        assert rate_tasks.nbk_rates_import("2026-11-24") == "refused"
    [alert] = mail.outbox
    assert in_russian(alert.subject) and "24.11.2026" in alert.subject and "refused" not in alert.subject
    assert "not well-formed XML" in alert.body  # the feed's own words, as they are
    assert in_russian(alert.body.split("\n\n", 1)[1])
    settings.STAFF_RECORDS_LANGUAGE = "en"  # changed the same day: the same problem is not told again
    assert rate_tasks.nbk_rates_import("2026-11-24") == "refused"
    assert len(mail.outbox) == 1


@respx.mock
def test_a_no_data_date_with_a_recent_earlier_rate_is_quiet():
    for currency, value in (("USD", "521.18"), ("EUR", "603.45"), ("RUB", "6.62")):
        make_rate(currency, date(2026, 11, 20), value)
    respx.get(FEED).mock(return_value=httpx.Response(200, content=feed_file("nbk_no_data.xml")))

    assert rate_tasks.nbk_rates_import("2026-11-22") == "no-data"
    assert mail.outbox == []


@respx.mock
def test_a_no_data_date_without_a_usable_rate_alerts_staff():
    make_rate("USD", date(2026, 11, 20), "521.18")
    make_rate("EUR", date(2026, 11, 1), "603.45")  # older than 7 days
    respx.get(FEED).mock(return_value=httpx.Response(200, content=feed_file("nbk_no_data.xml")))

    assert rate_tasks.nbk_rates_import("2026-11-22") == "no-data"
    assert len(mail.outbox) == 1
    assert mail.outbox[0].subject == "[Soldee staff] No usable NBK rate for 22.11.2026: EUR, RUB"


@respx.mock
@time_machine.travel("2026-11-23 18:30 +05:00", tick=False)
def test_the_evening_run_imports_tomorrows_rates_for_charges_after_midnight():
    from billing.exchange import rate_on

    route = respx.get(FEED, params={"fdate": "24.11.2026"}).mock(
        return_value=httpx.Response(200, content=feed_file("nbk_2026-11-24.xml")))
    assert rate_tasks.nbk_rates_import(ahead_days=1) == "imported"
    assert route.called
    with time_machine.travel("2026-11-24 00:05 +05:00", tick=False):  # before the 00:15 run
        assert rate_on(currency="USD", on=date(2026, 11, 24)).rate_date == date(2026, 11, 24)


@respx.mock
@time_machine.travel("2026-11-21 18:30 +05:00", tick=False)
def test_the_evening_run_gives_up_quietly_when_tomorrows_rates_are_not_there():
    for currency, per_unit in (("USD", "470.00"), ("EUR", "510.00"), ("RUB", "5.80")):
        make_rate(currency, date(2026, 11, 21), per_unit)
    respx.get(FEED, params={"fdate": "22.11.2026"}).mock(
        return_value=httpx.Response(200, content=feed_file("nbk_no_data.xml")))
    assert rate_tasks.nbk_rates_import(ahead_days=1) == "no-data"
    respx.get(FEED, params={"fdate": "22.11.2026"}).mock(side_effect=httpx.ConnectTimeout("slow"))
    assert rate_tasks.nbk_rates_import(ahead_days=1) == "unavailable"  # no retry: the day's own runs will
    assert mail.outbox == [] and ExchangeRate.objects.count() == 3
