import pytest

from billing import nbk
from tests.exchange.exchange_helpers import FEED


@pytest.fixture(autouse=True)
def _no_backoff_sleep(monkeypatch):
    """The client's backoff between attempts is recorded, never slept."""
    slept: list[float] = []
    monkeypatch.setattr(nbk, "_sleep", slept.append)
    return slept


@pytest.fixture(autouse=True)
def _exchange_settings(settings):
    settings.NBK_FEED_URL = FEED
    settings.NONRESIDENT_CURRENCIES = ["USD", "EUR", "RUB"]
    settings.EXCHANGE_RATE_MAX_JUMP = 0.2
    settings.EXCHANGE_RATE_MAX_AGE_DAYS = 7
    settings.STAFF_ALERT_EMAILS = ["tech@soldee.kz"]
