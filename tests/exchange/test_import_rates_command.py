"""`manage.py import_rates`: from the feed or a saved answer; says what it did or why not."""

from datetime import date
from io import StringIO

import httpx
import pytest
import respx
from django.core.management import CommandError, call_command

from billing.models import ExchangeRate
from tests.exchange.exchange_helpers import FEED, FIXTURES, feed_file, make_rate

pytestmark = pytest.mark.django_db


def run(*args) -> str:
    out = StringIO()
    call_command("import_rates", *args, stdout=out)
    return out.getvalue()


def test_imports_a_saved_feed_answer_and_prints_what_it_imported():
    out = run("--file", str(FIXTURES / "nbk_2026-11-24.xml"))

    assert "24.11.2026 USD: 521.18 KZT per 1 = 521.18 KZT per 1 (imported)" in out
    assert "24.11.2026 RUB: 6.62 KZT per 1 = 6.62 KZT per 1 (imported)" in out
    assert ExchangeRate.objects.count() == 3


def test_prints_the_per_unit_rate_of_a_currency_published_per_100(settings):
    settings.NONRESIDENT_CURRENCIES = ["UZS"]

    out = run("--file", str(FIXTURES / "nbk_2026-11-24.xml"), "--date", "24.11.2026")

    assert "UZS: 4.33 KZT per 100 = 0.0433 KZT per 1 (imported)" in out


def test_refuses_a_malformed_file_and_says_why():
    with pytest.raises(CommandError, match="malformed: The feed's answer is not well-formed XML"):
        run("--file", str(FIXTURES / "nbk_truncated.xml"))
    assert ExchangeRate.objects.count() == 0


def test_refuses_a_file_of_another_date():
    with pytest.raises(CommandError, match="holds the rates of 24.11.2026, not of 23.11.2026"):
        run("--file", str(FIXTURES / "nbk_2026-11-24.xml"), "--date", "2026-11-23")


def test_a_no_data_file_says_which_earlier_rate_applies():
    make_rate("USD", date(2026, 11, 20), "521.18")

    out = run("--file", str(FIXTURES / "nbk_no_data.xml"), "--date", "2026-11-22")

    assert "No rates published for 22.11.2026" in out
    assert "USD: using the latest earlier rate, 521.18 KZT of 20.11.2026" in out
    assert ExchangeRate.objects.count() == 1


@respx.mock
def test_imports_one_date_from_the_feed():
    route = respx.get(FEED, params={"fdate": "23.11.2026"}).mock(
        return_value=httpx.Response(200, content=feed_file("nbk_2026-11-23.xml")))

    out = run("--date", "2026-11-23")

    assert route.called
    assert "23.11.2026 EUR: 601.39 KZT per 1" in out
    assert set(ExchangeRate.objects.values_list("rate_date", flat=True)) == {date(2026, 11, 23)}


@respx.mock
def test_a_jump_is_refused_unless_allowed_with_a_reason():
    make_rate("EUR", date(2026, 11, 23), "480.00")
    respx.get(FEED).mock(return_value=httpx.Response(200, content=feed_file("nbk_2026-11-24.xml")))

    with pytest.raises(CommandError, match="Refused: Rates of 24.11.2026 not imported: EUR moved"):
        run("--date", "2026-11-24")
    with pytest.raises(CommandError, match="--allow-jump needs --reason"):
        run("--date", "2026-11-24", "--allow-jump")
    out = run("--date", "2026-11-24", "--allow-jump", "--reason", "Confirmed with the bank")

    assert "EUR: 603.45 KZT per 1" in out
    assert ExchangeRate.objects.get(currency="EUR", rate_date=date(2026, 11, 24)).reason == "Confirmed with the bank"


@respx.mock
def test_an_unreachable_feed_is_reported():
    respx.get(FEED).mock(side_effect=httpx.ConnectError("refused"))

    with pytest.raises(CommandError, match="Feed unavailable"):
        run("--date", "2026-11-24")
