"""The one rounding rule, property-tested: converted back at the same rate, the charge is
never below the KZT price and exceeds it by less than one minor unit of the charged currency."""

from decimal import Decimal, localcontext

from babel.numbers import get_currency_precision
from hypothesis import given
from hypothesis import strategies as st

from billing.exchange import convert_kzt

# USD/EUR/RUB have cents; JPY, KRW and IRR have no minor unit; KWD has three decimals.
currencies = st.sampled_from(["USD", "EUR", "RUB", "JPY", "KRW", "IRR", "KWD", "UZS"])
# Rates as stored: tenge per ONE unit, 6 decimal places, from IRR-sized to KWD-sized.
rates = st.decimals(min_value=Decimal("0.000001"), max_value=Decimal("99999"), places=6)
prices = st.integers(min_value=1, max_value=10**12)  # tiyn: up to 10 billion tenge


@given(kzt_minor=prices, currency=currencies, rate=rates)
def test_the_charge_covers_the_kzt_price_by_less_than_one_minor_unit(kzt_minor, currency, rate):
    charged_minor = convert_kzt(kzt_amount_minor=kzt_minor, currency=currency, kzt_per_unit=rate)

    with localcontext() as ctx:
        ctx.prec = 80  # exact for these magnitudes
        kzt = Decimal(kzt_minor).scaleb(-2)
        one_minor_unit = Decimal(1).scaleb(-get_currency_precision(currency))
        charged = Decimal(charged_minor) * one_minor_unit
        back_in_kzt = charged * rate
        assert charged_minor >= 1
        assert back_in_kzt >= kzt
        assert back_in_kzt - kzt < one_minor_unit * rate


def test_an_exact_conversion_is_not_rounded_up():
    assert convert_kzt(kzt_amount_minor=5_000_000, currency="USD", kzt_per_unit=Decimal("500")) == 10_000


def test_a_fraction_of_a_cent_is_rounded_up():
    assert convert_kzt(kzt_amount_minor=5_000_001, currency="USD", kzt_per_unit=Decimal("500")) == 10_001
