"""The parser reads the feed's real XML format (fixtures written in it)."""

from datetime import date
from decimal import Decimal

import pytest

from billing import nbk
from tests.exchange.exchange_helpers import feed_file


def test_parses_the_date_and_every_currency_with_its_quant():
    answer = nbk.parse(feed_file("nbk_2026-11-24.xml"))

    assert answer.rate_date == date(2026, 11, 24)
    assert answer.info == ""
    assert set(answer.rates) == {"AUD", "AMD", "USD", "EUR", "IRR", "KWD", "RUB", "UZS", "KRW", "JPY"}
    usd = answer.rates["USD"]
    assert (usd.published, usd.quant, usd.fullname) == (Decimal("521.18"), 1, "ДОЛЛАР США")
    assert usd.kzt_per_unit == Decimal("521.18")


@pytest.mark.parametrize(("code", "published", "quant", "per_unit"), [
    ("AMD", "13.61", 10, "1.361"),
    ("UZS", "4.33", 100, "0.0433"),
    ("KRW", "35.79", 100, "0.3579"),
    ("IRR", "12.38", 1000, "0.01238"),
])
def test_a_rate_published_per_10_100_or_1000_units_is_divided_down_to_one_unit(code, published, quant, per_unit):
    rate = nbk.parse(feed_file("nbk_2026-11-24.xml")).rates[code]

    assert rate.published == Decimal(published)
    assert rate.quant == quant
    assert rate.kzt_per_unit == Decimal(per_unit)


def test_a_no_data_answer_has_the_notice_and_no_rates():
    answer = nbk.parse(feed_file("nbk_no_data.xml"))

    assert not answer.has_rates
    assert answer.info == "No data for the specified date"
    assert answer.rate_date is None


@pytest.mark.parametrize("name", ["nbk_truncated.xml", "nbk_html_error.html", "nbk_not_a_number.xml"])
def test_malformed_answers_are_refused(name):
    with pytest.raises(nbk.FeedMalformed):
        nbk.parse(feed_file(name))


@pytest.mark.parametrize("body", [
    b"",
    b"   ",
    b"<rates><date>24.11.2026</date></rates>",  # neither items nor a notice
    b"<ValCurs Date='24.11.2026'></ValCurs>",  # some other bank's format
    b"<rates><item><title>USD</title><description>521.18</description><quant>1</quant></item></rates>",
    b"<rates><date>2026-11-24</date><item><title>USD</title><description>1</description></item></rates>",
    b"<rates><date>24.11.2026</date><item><title>USD</title><description>1</description>"
    b"<quant>0</quant></item></rates>",
    b"<rates><date>24.11.2026</date><item><title>USD</title><description>1</description><quant>1</quant></item>"
    b"<item><title>USD</title><description>2</description><quant>1</quant></item></rates>",
    b"<rates><date>24.11.2026</date><item><title>$$</title><description>1</description></item></rates>",
    b'<?xml version="1.0"?><!DOCTYPE r [<!ENTITY a "aaaa">]><rates><info>&a;</info></rates>',
])
def test_answers_that_are_not_the_feed_format_are_refused(body):
    with pytest.raises(nbk.FeedMalformed):
        nbk.parse(body)


def test_zero_and_negative_values_are_parsed_as_numbers_for_the_importer_to_judge():
    assert nbk.parse(feed_file("nbk_zero_rub.xml")).rates["RUB"].published == 0
    assert nbk.parse(feed_file("nbk_negative_eur.xml")).rates["EUR"].published == Decimal("-603.45")


@pytest.mark.parametrize("quant", ["", "<quant></quant>", "<quant> </quant>"])
def test_an_item_without_its_quant_is_refused_not_read_as_per_one_unit(quant):
    # Every answer of the feed carries <quant> (the 2013 to 2026 answers public parsers are
    # tested with do): UZS is published per 100, and reading a missing quant as 1 would
    # store a rate 100 times too high for the first import, which no jump check catches.
    body = feed_file("nbk_2026-11-24.xml").replace(b"<quant>100</quant>", quant.encode(), 1)

    with pytest.raises(nbk.FeedMalformed, match="quantity of UZS"):
        nbk.parse(body)
