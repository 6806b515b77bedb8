"""Clause 6.2: residents pay in KZT; non-residents the equivalent at the National Bank
of Kazakhstan rate. `conversion_for` is the one place a price becomes a charge."""

from .services import Conversion


def conversion_for(*, customer, kzt_amount_minor: int, on=None) -> Conversion:
    """The amount to charge this customer for a KZT price (on a date, default today)."""
    return Conversion(amount_minor=kzt_amount_minor, currency="KZT", kzt_amount_minor=kzt_amount_minor)
