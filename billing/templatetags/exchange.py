"""Showing a KZT price converted for the current customer (clause 6.2).

    {% load exchange %}
    {% price_for_customer plan.price_minor %}     29 900 ₸ ≈ $57.37 (rate 521.18 ₸ per 1 USD of 24.11.2026, …)
    {% customer_quote plan.price_minor as quote %} a billing.services.Conversion, or None
    {{ payment|payment_exchange }}                 "$57.37 = 29 900 ₸ at 521.18 ₸ per 1 USD, rate of …"
                                                   ("" for a payment in KZT), for pages and receipts
"""

from django import template
from django.utils import formats
from django.utils.html import format_html
from django.utils.translation import gettext as _

from soldee.money import format_money

from .. import exchange

register = template.Library()


def _customer(context):
    request = context.get("request")
    user = getattr(request, "user", None) or context.get("user")
    return user if user is not None and getattr(user, "is_authenticated", False) else None


@register.simple_tag(takes_context=True)
def customer_quote(context, kzt_amount_minor, on=None):
    customer = _customer(context)
    if customer is None:
        return None
    conversion, _why = exchange.quote_for(customer=customer, kzt_amount_minor=int(kzt_amount_minor), on=on)
    return conversion


@register.simple_tag(takes_context=True)
def price_for_customer(context, kzt_amount_minor, on=None):
    """The KZT price, and for a non-resident the amount they will be charged, with the
    rate, its date and source; or why it cannot be converted right now."""
    kzt_amount_minor = int(kzt_amount_minor)
    kzt = format_html('<span class="price-kzt">{}</span>', format_money(kzt_amount_minor, "KZT"))
    customer = _customer(context)
    if customer is None:
        return kzt
    conversion, why = exchange.quote_for(customer=customer, kzt_amount_minor=kzt_amount_minor, on=on)
    if conversion is None:
        return format_html('{} <small class="rate-note warning">{}</small>', kzt, why)
    if conversion.currency == "KZT":
        return kzt
    note = _("rate %(rate)s ₸ per 1 %(currency)s of %(date)s, %(source)s") % {
        "rate": exchange.format_rate(conversion.rate),
        "currency": conversion.currency,
        "date": formats.date_format(conversion.rate_date, "SHORT_DATE_FORMAT"),
        "source": exchange.source_label(conversion.source),
    }
    return format_html('{} <span class="price-converted">≈ {}</span> <small class="rate-note">({})</small>',
                       kzt, format_money(conversion.amount_minor, conversion.currency), note)


@register.filter
def payment_exchange(payment) -> str:
    """How a payment in a foreign currency was converted: amount, KZT equivalent, rate,
    rate date and source, as stored on the payment."""
    if not payment or payment.currency == "KZT" or payment.exchange_rate is None:
        return ""
    return exchange.describe_conversion(
        currency=payment.currency, amount_minor=payment.amount_minor,
        kzt_amount_minor=payment.kzt_amount_minor, rate=payment.exchange_rate,
        rate_date=payment.exchange_rate_date, source=payment.exchange_rate_source,
    )
