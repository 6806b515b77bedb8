"""The HTTP client, with the transport mocked by respx: the client and parser are real."""

from datetime import date
from decimal import Decimal

import httpx
import pytest
import respx

from billing import nbk
from tests.exchange.exchange_helpers import FEED, feed_file


@respx.mock
def test_asks_for_the_date_in_the_feeds_format_and_returns_the_parsed_rates():
    route = respx.get(FEED, params={"fdate": "24.11.2026"}).mock(
        return_value=httpx.Response(200, content=feed_file("nbk_2026-11-24.xml")))

    answer = nbk.get_rates(date(2026, 11, 24))

    assert route.call_count == 1
    assert answer.rates["EUR"].published == Decimal("603.45")


@respx.mock
def test_a_timeout_is_retried_with_backoff_and_then_succeeds(_no_backoff_sleep):
    route = respx.get(FEED).mock(side_effect=[
        httpx.ConnectTimeout("slow"), httpx.ReadTimeout("slower"),
        httpx.Response(200, content=feed_file("nbk_2026-11-24.xml")),
    ])

    answer = nbk.get_rates(date(2026, 11, 24))

    assert route.call_count == 3
    assert _no_backoff_sleep == [2.0, 4.0]
    assert answer.rate_date == date(2026, 11, 24)


@respx.mock
def test_retries_are_bounded_and_end_in_feed_unavailable():
    route = respx.get(FEED).mock(side_effect=httpx.ConnectError("refused"))

    with pytest.raises(nbk.FeedUnavailable, match="ConnectError"):
        nbk.fetch(date(2026, 11, 24))
    assert route.call_count == nbk.ATTEMPTS


@respx.mock
def test_a_server_error_is_retried():
    route = respx.get(FEED).mock(side_effect=[
        httpx.Response(503), httpx.Response(200, content=feed_file("nbk_no_data.xml"))])

    assert nbk.get_rates(date(2026, 11, 22)).info
    assert route.call_count == 2


@respx.mock
def test_a_client_error_is_not_retried():
    route = respx.get(FEED).mock(return_value=httpx.Response(404))

    with pytest.raises(nbk.FeedUnavailable, match="HTTP 404"):
        nbk.fetch(date(2026, 11, 24))
    assert route.call_count == 1


def test_the_timeout_comes_from_settings(settings, monkeypatch):
    settings.NBK_TIMEOUT_SECONDS = 3
    seen = {}

    class Recorder(httpx.Client):
        def __init__(self, **kwargs):
            seen["timeout"] = kwargs["timeout"]
            super().__init__(**kwargs)

    monkeypatch.setattr(nbk.httpx, "Client", Recorder)
    with respx.mock:
        respx.get(FEED).mock(return_value=httpx.Response(200, content=b"<rates/>"))
        with pytest.raises(nbk.FeedMalformed):
            nbk.get_rates(date(2026, 11, 24))
    assert seen["timeout"] == 3.0
