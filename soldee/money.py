"""Money: integer minor units + ISO currency; formatting with babel for the reader's locale."""

import re
from decimal import ROUND_CEILING, Decimal

from babel.numbers import format_currency, get_currency_precision
from django.utils import translation

_BABEL_LOCALES = {"ru": "ru_KZ", "kk": "kk_KZ", "en": "en_US"}


def minor_to_decimal(amount_minor: int, currency: str) -> Decimal:
    return Decimal(amount_minor).scaleb(-get_currency_precision(currency))


def decimal_to_minor_ceiling(amount: Decimal, currency: str) -> int:
    """Round *up* to the currency's minor unit (the one place conversions round)."""
    exponent = get_currency_precision(currency)
    return int((amount.scaleb(exponent)).to_integral_value(rounding=ROUND_CEILING))


_CODE_THEN_NUMBER = re.compile(r"^(-?[A-Z]{3})(?=\d)")


def format_money(amount_minor: int, currency: str, language: str | None = None) -> str:
    """`29 900 ₸` in ru/kk, `₸29,900` in en; whole tenge shown without decimals."""
    language = (language or translation.get_language() or "ru").split("-")[0]
    locale = _BABEL_LOCALES.get(language, "ru_RU")
    value = minor_to_decimal(amount_minor, currency)
    fmt = None
    if value == value.to_integral_value():
        fmt = "#,##0\xa0¤" if language in ("ru", "kk") else "¤#,##0"
    text = format_currency(value, currency, format=fmt, locale=locale, currency_digits=fmt is None)
    # en_US knows the tenge only by its code; the sign is what Kazakhstan reads.
    text = text.replace("KZT", "₸").replace("\u202f", "\xa0")
    # A currency that has no sign in English shows its code: "RUB 30,659.51", not "RUB30,659.51".
    return _CODE_THEN_NUMBER.sub("\\1\xa0", text)
