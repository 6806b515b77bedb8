"""Importing a feed answer: offered currencies only, all or nothing, events recorded."""

from datetime import date
from decimal import Decimal

import httpx
import pytest
import respx

from billing import exchange, nbk
from billing.models import ExchangeRate
from soldee.models import Event
from tests.exchange.exchange_helpers import FEED, feed_file, make_rate

pytestmark = pytest.mark.django_db
NOV24 = date(2026, 11, 24)


def answer(name):
    return nbk.parse(feed_file(name))


def stored():
    return {(r.currency, r.rate_date): (r.kzt_per_unit, r.quant, r.source) for r in ExchangeRate.objects.all()}


@respx.mock
def test_imports_the_offered_currencies_of_the_date_from_the_feed():
    respx.get(FEED, params={"fdate": "24.11.2026"}).mock(
        return_value=httpx.Response(200, content=feed_file("nbk_2026-11-24.xml")))

    result = exchange.rates_import_from_feed(on=NOV24)

    assert stored() == {
        ("USD", NOV24): (Decimal("521.18"), 1, "nbk"),
        ("EUR", NOV24): (Decimal("603.45"), 1, "nbk"),
        ("RUB", NOV24): (Decimal("6.62"), 1, "nbk"),
    }
    assert [r.currency for r in result.created] == ["USD", "EUR", "RUB"]
    assert not result.missing
    assert "USD: 521.18 KZT per 1" in result.summary()
    events = Event.objects.filter(verb="exchange_rate.imported")
    assert events.count() == 3
    usd = events.get(data__currency="USD")
    assert usd.data["published"] == "521.18" and usd.data["requested_date"] == "2026-11-24"


def test_currencies_published_per_100_and_1000_units_are_stored_per_one_unit(settings):
    settings.NONRESIDENT_CURRENCIES = ["UZS", "IRR", "KRW", "AMD"]

    exchange.rates_import(answer=answer("nbk_2026-11-24.xml"), requested=NOV24)

    assert stored() == {
        ("UZS", NOV24): (Decimal("0.0433"), 100, "nbk"),
        ("IRR", NOV24): (Decimal("0.01238"), 1000, "nbk"),
        ("KRW", NOV24): (Decimal("0.3579"), 100, "nbk"),
        ("AMD", NOV24): (Decimal("1.361"), 10, "nbk"),
    }


def test_importing_the_same_answer_twice_changes_nothing():
    exchange.rates_import(answer=answer("nbk_2026-11-24.xml"), requested=NOV24)
    again = exchange.rates_import(answer=answer("nbk_2026-11-24.xml"), requested=NOV24)

    assert again.created == [] and len(again.unchanged) == 3
    assert ExchangeRate.objects.count() == 3
    assert Event.objects.filter(verb="exchange_rate.imported").count() == 3


def test_a_no_data_date_stores_nothing_and_reports_the_latest_earlier_rate():
    make_rate("USD", date(2026, 11, 20), "520.00")
    make_rate("EUR", date(2026, 11, 20), "600.00")

    result = exchange.rates_import(answer=answer("nbk_no_data.xml"), requested=date(2026, 11, 22))

    assert ExchangeRate.objects.count() == 2
    assert result.no_data
    assert result.fallback["USD"].rate_date == date(2026, 11, 20)
    assert result.missing == ["RUB"]
    text = result.summary()
    assert "No rates published for 22.11.2026" in text
    assert "No data for the specified date" in text
    assert "USD: using the latest earlier rate, 520.00 KZT of 20.11.2026" in text
    assert "RUB: NO usable rate" in text


def test_a_feed_answering_with_an_earlier_date_is_stored_under_that_date_and_said_so():
    result = exchange.rates_import(answer=answer("nbk_2026-11-24.xml"), requested=date(2026, 11, 25))

    assert {d for (_c, d) in stored()} == {NOV24}
    assert "No rates published for 25.11.2026; the feed answered with the rates of 24.11.2026" in result.summary()


def test_a_feed_answering_with_a_later_date_is_refused():
    with pytest.raises(exchange.ImportRefused, match="answered with those of 24.11.2026"):
        exchange.rates_import(answer=answer("nbk_2026-11-24.xml"), requested=date(2026, 11, 23))
    assert ExchangeRate.objects.count() == 0


@pytest.mark.parametrize(("name", "message"), [
    ("nbk_zero_rub.xml", "RUB has an absurd rate: 0.00"),
    ("nbk_negative_eur.xml", "EUR has an absurd rate: -603.45"),
])
def test_zero_or_negative_rates_are_refused_and_nothing_is_half_imported(name, message):
    with pytest.raises(exchange.ImportRefused, match=message):
        exchange.rates_import(answer=answer(name), requested=NOV24)
    assert ExchangeRate.objects.count() == 0
    assert not Event.objects.filter(verb="exchange_rate.imported").exists()


def test_a_missing_offered_currency_refuses_the_whole_date(settings):
    settings.NONRESIDENT_CURRENCIES = ["USD", "CHF"]

    with pytest.raises(exchange.ImportRefused, match="CHF is missing"):
        exchange.rates_import(answer=answer("nbk_2026-11-24.xml"), requested=NOV24)
    assert ExchangeRate.objects.count() == 0


def test_a_jump_over_the_threshold_refuses_the_whole_date():
    make_rate("USD", date(2026, 11, 23), "522.55")
    make_rate("EUR", date(2026, 11, 23), "480.00")  # 603.45 is +25.7 %

    with pytest.raises(exchange.ImportRefused, match="EUR moved from 480.00 .23.11.2026. to 603.45"):
        exchange.rates_import(answer=answer("nbk_2026-11-24.xml"), requested=NOV24)
    assert not ExchangeRate.objects.filter(rate_date=NOV24).exists()  # not even USD


def test_the_jump_threshold_is_a_setting(settings):
    settings.EXCHANGE_RATE_MAX_JUMP = 0.3
    make_rate("EUR", date(2026, 11, 23), "480.00")

    exchange.rates_import(answer=answer("nbk_2026-11-24.xml"), requested=NOV24)

    assert ExchangeRate.objects.filter(rate_date=NOV24).count() == 3


def test_a_real_jump_is_accepted_with_a_reason_recorded(admin_user):
    make_rate("EUR", date(2026, 11, 23), "480.00")

    with pytest.raises(exchange.ImportRefused, match="needs a reason"):
        exchange.rates_import(answer=answer("nbk_2026-11-24.xml"), requested=NOV24, allow_jump=True)
    exchange.rates_import(answer=answer("nbk_2026-11-24.xml"), requested=NOV24, allow_jump=True,
                          reason="Devaluation confirmed on nationalbank.kz", actor=admin_user)

    eur = ExchangeRate.objects.get(currency="EUR", rate_date=NOV24)
    assert eur.kzt_per_unit == Decimal("603.45")
    event = Event.objects.get(verb="exchange_rate.imported", data__currency="EUR")
    assert event.actor == admin_user and event.actor_kind == "staff"
    assert event.data["reason"] == "Devaluation confirmed on nationalbank.kz"
    assert event.data["previous"] == {"rate_date": "2026-11-23", "kzt_per_unit": "480.000000"}


def test_a_hand_entered_rate_that_differs_from_the_feed_is_kept_and_the_other_currencies_imported():
    """Staff entered tomorrow's RUB by hand; the feed then says otherwise: the hand rate stays
    (payments may be charged at it; a stored rate is never edited), USD and EUR of that day
    are imported, and the difference is reported. (Found by the staff explorer: the whole
    day was refused, leaving USD and EUR on the day before's rate.)"""
    make_rate("RUB", NOV24, "6.50", source="manual")

    result = exchange.rates_import(answer=answer("nbk_2026-11-24.xml"), requested=NOV24)
    assert stored()[("RUB", NOV24)] == (Decimal("6.50"), 1, "manual")
    assert ExchangeRate.objects.filter(rate_date=NOV24).count() == 3
    assert list(result.manual_differs) == ["RUB"]
    assert "the rate entered by staff, 6.50, is kept" in result.summary()


def test_a_demo_rate_that_differs_from_the_feed_is_kept_as_a_hand_entered_one_is():
    """`make run` stores made-up rates for today; a feed reachable after all does not refuse
    the day over them, and the report calls them what they are."""
    make_rate("RUB", NOV24, "6.50", source="demo")

    result = exchange.rates_import(answer=answer("nbk_2026-11-24.xml"), requested=NOV24)
    assert stored()[("RUB", NOV24)] == (Decimal("6.50"), 1, "demo")
    assert ExchangeRate.objects.filter(rate_date=NOV24).count() == 3
    assert "the demo rate, 6.50, is kept" in result.summary()


def test_an_official_rate_that_differs_from_the_feed_refuses_the_day():
    make_rate("RUB", NOV24, "6.50", source="nbk")

    with pytest.raises(exchange.ImportRefused, match="RUB is already stored for 24.11.2026 as 6.50 .nbk."):
        exchange.rates_import(answer=answer("nbk_2026-11-24.xml"), requested=NOV24)
    assert stored() == {("RUB", NOV24): (Decimal("6.50"), 1, "nbk")}


def test_a_manual_rate_equal_to_the_feed_is_kept_and_the_rest_imported():
    make_rate("RUB", NOV24, "6.62", source="manual")

    result = exchange.rates_import(answer=answer("nbk_2026-11-24.xml"), requested=NOV24)

    assert [r.currency for r in result.unchanged] == ["RUB"]
    assert stored()[("RUB", NOV24)][2] == "manual"
    assert ExchangeRate.objects.filter(rate_date=NOV24).count() == 3


def test_rates_entered_by_hand_record_an_event_with_the_reason(admin_user):
    make_rate("USD", date(2026, 11, 23), "522.55")

    rate = exchange.rate_enter_manually(currency="usd", rate_date=NOV24, published=Decimal("521.18"),
                                        quant=1, reason="Feed down all day", by=admin_user)

    assert (rate.currency, rate.source, rate.entered_by, rate.reason) == ("USD", "manual", admin_user,
                                                                          "Feed down all day")
    event = Event.objects.get(verb="exchange_rate.entered")
    assert event.actor == admin_user and event.data["reason"] == "Feed down all day"
    assert event.data["previous"]["rate_date"] == "2026-11-23"
    with pytest.raises(ValueError):
        exchange.rate_enter_manually(currency="EUR", rate_date=NOV24, published=Decimal("600"), quant=1,
                                     reason="  ", by=admin_user)
