"""Helpers shared by the exchange-rate tests (fixtures are in conftest.py)."""

from datetime import date
from decimal import Decimal
from pathlib import Path

from billing.models import ExchangeRate

FIXTURES = Path(__file__).parent / "fixtures"
FEED = "https://nationalbank.kz/rss/get_rates.cfm"


def feed_file(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


def make_rate(currency: str, day: date, per_unit: str, *, quant: int = 1,
              source: str = ExchangeRate.Source.NBK) -> ExchangeRate:
    return ExchangeRate.objects.create(currency=currency, rate_date=day, kzt_per_unit=Decimal(per_unit),
                                       quant=quant, source=source)
