"""Clause 6.2: residents pay in KZT; non-residents the equivalent at the National Bank
of Kazakhstan rate. `conversion_for` is the one place a price becomes a charge, and
`convert_kzt` the one place a converted amount is rounded (up, via
`soldee.money.decimal_to_minor_ceiling`). See docs/exchange-rates.md.

Reads (`rate_on`, `offered_currencies`, `conversion_for`) and writes (`rates_import`,
`rate_enter_manually`) of ExchangeRate rows live here; the wire format is billing.nbk.
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import ROUND_CEILING, ROUND_HALF_EVEN, Decimal, localcontext

from babel.numbers import format_decimal
from django.conf import settings
from django.core.cache import cache
from django.db import IntegrityError, transaction
from django.utils import formats, timezone, translation
from django.utils.translation import gettext as _

from soldee import events
from soldee.models import Event
from soldee.money import decimal_to_minor_ceiling, format_money, minor_to_decimal

from . import nbk
from .models import ExchangeRate
from .services import Conversion

log = logging.getLogger(__name__)

DEFAULT_CURRENCIES = ["USD", "EUR", "RUB"]
DEFAULT_MAX_JUMP = 0.2
DEFAULT_MAX_AGE_DAYS = 7
RATE_PLACES = Decimal("0.000001")  # ExchangeRate.kzt_per_unit has 6 decimal places
# Stored rates the feed does not overrule for their date (kept and reported when it differs).
KEPT_SOURCES = (ExchangeRate.Source.MANUAL, ExchangeRate.Source.DEMO)


# --- Errors ---------------------------------------------------------------------------

class RateUnavailable(Exception):
    """No usable rate to convert this customer's price: checkout must refuse, showing
    `str(exc)` (translated, customer-facing)."""

    def __init__(self, message: str, *, currency: str = "", on: date | None = None):
        super().__init__(message)
        self.currency, self.on = currency, on


class CurrencyNotChosen(RateUnavailable):
    """A non-resident whose profile names no offered currency (e.g. still KZT)."""


class ImportRefused(Exception):
    """The feed answered, but with rates we will not store (zero, negative, a jump over
    the threshold, a missing currency, a conflict with a stored rate). Nothing was saved."""


# --- Settings --------------------------------------------------------------------------

def offered_currencies() -> list[str]:
    """Currencies non-residents may pay in (settings.NONRESIDENT_CURRENCIES)."""
    return [c.strip().upper() for c in getattr(settings, "NONRESIDENT_CURRENCIES", DEFAULT_CURRENCIES)
            if c.strip()]


def currency_choices() -> list[tuple[str, str]]:
    """For the profile form: KZT (residents) + the currencies offered to non-residents,
    each by its name in the reader's language (babel's, ours for the tenge), then its code:
    "Kazakhstan tenge (KZT)", "US dollar (USD)", «Евро (EUR)»."""
    from babel.core import UnknownLocaleError
    from babel.numbers import get_currency_name
    from django.utils import translation
    from django.utils.text import capfirst

    from soldee.money import _BABEL_LOCALES

    language = (translation.get_language() or "ru").split("-")[0]
    locale = _BABEL_LOCALES.get(language, "ru_RU")

    def named(code: str) -> str:
        try:
            name = get_currency_name(code, locale=locale)
        except UnknownLocaleError:
            name = code
        return code if name == code else f"{capfirst(name)} ({code})"

    choices = [("KZT", _("Kazakhstan tenge (KZT)"))]
    return choices + [(c, named(c)) for c in offered_currencies() if c != "KZT"]


def _max_jump() -> Decimal:
    return Decimal(str(getattr(settings, "EXCHANGE_RATE_MAX_JUMP", DEFAULT_MAX_JUMP)))


def _max_age() -> timedelta:
    return timedelta(days=int(getattr(settings, "EXCHANGE_RATE_MAX_AGE_DAYS", DEFAULT_MAX_AGE_DAYS)))


def local_date(on: date | datetime | None = None) -> date:
    """The Almaty calendar date of `on` (default now): rates are set per local date."""
    if on is None:
        return timezone.localdate()
    if isinstance(on, datetime):
        return timezone.localdate(on) if timezone.is_aware(on) else on.date()
    return on


# --- Reading rates and converting --------------------------------------------------------

def rate_on(*, currency: str, on: date) -> ExchangeRate | None:
    """The rate in force on `on`: that day's, or else the latest earlier one (weekends,
    holidays), but never one older than EXCHANGE_RATE_MAX_AGE_DAYS."""
    return (ExchangeRate.objects
            .filter(currency=currency, rate_date__lte=on, rate_date__gte=on - _max_age())
            .order_by("-rate_date").first())


def convert_kzt(*, kzt_amount_minor: int, currency: str, kzt_per_unit: Decimal) -> int:
    """THE rounding rule: the KZT price divided by the rate, rounded UP to the currency's
    minor unit. Converted back at the same rate the charge is never below the KZT price
    and exceeds it by less than one minor unit of the charged currency. The division
    itself rounds up too (high precision, ROUND_CEILING), so nothing is lost before the
    final rounding."""
    if kzt_per_unit <= 0:
        raise ValueError("an exchange rate must be positive")
    with localcontext() as ctx:
        ctx.prec = 60
        ctx.rounding = ROUND_CEILING
        amount = minor_to_decimal(kzt_amount_minor, "KZT") / Decimal(kzt_per_unit)
        return decimal_to_minor_ceiling(amount, currency)


def _profile(customer):
    from accounts.models import CustomerProfile

    # Read afresh: residency or currency changed today applies to the next payment.
    return CustomerProfile.objects.filter(user=customer).first()


_READ = object()


def conversion_for(*, customer, kzt_amount_minor: int, on=None, profile=_READ) -> Conversion:
    """The amount to charge this customer for a KZT price, at the rate in force on `on`
    (a date or datetime, default today in Almaty; renewals pass the renewal date).

    Residents (and customers without a profile) pay the KZT price. A non-resident pays
    in the offered currency chosen in the profile; raises CurrencyNotChosen if the
    profile names none, RateUnavailable if no usable rate is stored."""
    identity = Conversion(amount_minor=kzt_amount_minor, currency="KZT", kzt_amount_minor=kzt_amount_minor)
    if profile is _READ:  # a caller that has just read the profile (a renewal claim) passes it
        profile = _profile(customer)
    if profile is None or profile.is_resident:
        return identity
    offered = offered_currencies()
    currency = (profile.payment_currency or "").upper()
    if currency not in offered:
        raise CurrencyNotChosen(
            _("Non-residents pay in one of these currencies: %(currencies)s. Please choose one in "
              "your customer details.") % {"currencies": ", ".join(c for c in offered if c != "KZT")},
            currency=currency,
        )
    if currency == "KZT":
        return identity
    day = local_date(on)
    rate = rate_on(currency=currency, on=day)
    if rate is None:
        raise RateUnavailable(
            _("We cannot convert the price to %(currency)s right now: the National Bank of "
              "Kazakhstan rate for %(date)s is not available yet. Please try again later or "
              "contact us.") % {"currency": currency, "date": day.strftime("%d.%m.%Y")},
            currency=currency, on=day,
        )
    return Conversion(
        amount_minor=convert_kzt(kzt_amount_minor=kzt_amount_minor, currency=currency,
                                 kzt_per_unit=rate.kzt_per_unit),
        currency=currency,
        kzt_amount_minor=kzt_amount_minor,
        rate=rate.kzt_per_unit,
        rate_date=rate.rate_date,
        source=rate.source,
    )


def quote_for(*, customer, kzt_amount_minor: int, on=None) -> tuple[Conversion | None, str]:
    """For display: (conversion, "") or (None, why not). Never raises RateUnavailable."""
    try:
        return conversion_for(customer=customer, kzt_amount_minor=kzt_amount_minor, on=on), ""
    except RateUnavailable as exc:
        return None, str(exc)


def format_rate(rate: Decimal, language: str | None = None) -> str:
    language = (language or translation.get_language() or "ru").split("-")[0]
    locale = {"ru": "ru_KZ", "kk": "kk_KZ", "en": "en_US"}.get(language, "ru_RU")
    return format_decimal(Decimal(rate), format="#,##0.00####", locale=locale).replace("\u202f", "\xa0")


def source_label(source: str) -> str:
    try:
        return str(ExchangeRate.Source(source).label)
    except ValueError:
        return source


def describe_conversion(*, currency: str, amount_minor: int, kzt_amount_minor: int, rate,
                        rate_date, source: str) -> str:
    """One line for pages and receipts: "$57.37 = 29 900 ₸ at 521.18 ₸ per 1 USD, the
    National Bank of Kazakhstan rate of 24.11.2026"."""
    return _("%(amount)s = %(kzt)s at %(rate)s ₸ per 1 %(currency)s, rate of %(date)s (%(source)s)") % {
        "amount": format_money(amount_minor, currency),
        "kzt": format_money(kzt_amount_minor, "KZT"),
        "rate": format_rate(rate),
        "currency": currency,
        "date": formats.date_format(rate_date, "SHORT_DATE_FORMAT"),
        "source": source_label(source),
    }


# --- Importing rates ------------------------------------------------------------------------

@dataclass
class ImportResult:
    requested: date | None
    rate_date: date | None = None  # the date the stored rates are for
    created: list[ExchangeRate] = field(default_factory=list)
    unchanged: list[ExchangeRate] = field(default_factory=list)
    info: str = ""  # the feed's notice on a no-data date
    fallback: dict[str, ExchangeRate | None] = field(default_factory=dict)  # currency → rate in force
    # currency → (the rate staff entered for the date, kept; what the feed says instead)
    manual_differs: dict[str, tuple[ExchangeRate, Decimal]] = field(default_factory=dict)

    @property
    def no_data(self) -> bool:
        return self.rate_date is None

    @property
    def missing(self) -> list[str]:
        """Offered currencies with no usable rate for the requested date after this run."""
        return [c for c, r in self.fallback.items() if r is None]

    def summary(self) -> str:
        lines = []
        if self.no_data:
            lines.append(f"No rates published for {_d(self.requested)} (the feed says: {self.info or '—'}).")
            for currency, rate in self.fallback.items():
                lines.append(
                    f"{currency}: using the latest earlier rate, {_plain(rate.kzt_per_unit)} KZT of "
                    f"{_d(rate.rate_date)} ({rate.source})." if rate else
                    f"{currency}: NO usable rate — non-residents paying in {currency} cannot check out.")
            return "\n".join(lines)
        if self.requested and self.rate_date != self.requested:
            lines.append(f"No rates published for {_d(self.requested)}; "
                         f"the feed answered with the rates of {_d(self.rate_date)}.")
        for verb, rows in (("imported", self.created), ("already stored", self.unchanged)):
            for r in rows:
                lines.append(f"{_d(r.rate_date)} {r.currency}: {_plain(r.kzt_per_unit * r.quant)} KZT per "
                             f"{r.quant} = {_plain(r.kzt_per_unit)} KZT per 1 ({verb})")
        for currency, (kept, official) in self.manual_differs.items():
            which = "the demo rate" if kept.source == ExchangeRate.Source.DEMO else "the rate entered by staff"
            lines.append(f"{_d(kept.rate_date)} {currency}: {which}, {_plain(kept.kzt_per_unit)}, "
                         f"is kept (payments may be charged at it); the National Bank published "
                         f"{_plain(official)}.")
        return "\n".join(lines)


def _plain(value: Decimal) -> str:
    """A rate for staff messages and logs: 521.18, 0.0433 (no locale, at least 2 places)."""
    value = Decimal(value).normalize()
    if value.as_tuple().exponent > -2:
        value = value.quantize(Decimal("0.01"))
    return f"{value:f}"


def _d(day: date | None) -> str:
    return day.strftime("%d.%m.%Y") if day else "—"


def _per_unit(published: Decimal, quant: int) -> Decimal:
    with localcontext() as ctx:
        ctx.prec = 40
        return (Decimal(published) / quant).quantize(RATE_PLACES, rounding=ROUND_HALF_EVEN)


def _previous(currency: str, before: date) -> ExchangeRate | None:
    return ExchangeRate.objects.filter(currency=currency, rate_date__lt=before).order_by("-rate_date").first()


def _jump(new: Decimal, old: Decimal) -> Decimal:
    return abs(new - old) / old


def rates_import(*, answer: nbk.FeedAnswer, requested: date | None = None, allow_jump: bool = False,
                 reason: str = "", actor=None) -> ImportResult:
    """Store the offered currencies' rates from one feed answer, all or nothing.

    A no-data answer stores nothing and reports the rate in force instead (the latest
    earlier one). Raises ImportRefused, saving nothing, when an offered currency is
    missing, a rate is zero or negative, moves more than EXCHANGE_RATE_MAX_JUMP against
    the previous stored rate (unless `allow_jump`, which needs a `reason`), or differs
    from a rate already stored for that date. Re-importing the same answer is a no-op."""
    offered = [c for c in offered_currencies() if c != "KZT"]
    result = ImportResult(requested=requested, info=answer.info)
    if not answer.has_rates:
        day = requested or answer.rate_date
        if day is None:
            raise ImportRefused(f"The feed has no rates ({answer.info}) and no date was given.")
        result.fallback = {c: rate_on(currency=c, on=day) for c in offered}
        return result
    if requested and answer.rate_date > requested:
        raise ImportRefused(f"Asked for the rates of {_d(requested)}, the feed answered with those of {_d(answer.rate_date)}.")
    if allow_jump and not reason.strip():
        raise ImportRefused("Accepting a jump over the threshold needs a reason.")

    day = answer.rate_date
    result.rate_date = day
    problems: list[str] = []
    wanted: dict[str, tuple[nbk.FeedRate, Decimal]] = {}
    for currency in offered:
        item = answer.rates.get(currency)
        if item is None:
            problems.append(f"{currency} is missing from the feed.")
            continue
        if item.published <= 0:
            problems.append(f"{currency} has an absurd rate: {item.published}.")
            continue
        per_unit = _per_unit(item.published, item.quant)
        if per_unit <= 0:
            problems.append(f"{currency}: {item.published} per {item.quant} is too small to store.")
            continue
        previous = _previous(currency, day)
        if previous and not allow_jump and _jump(per_unit, previous.kzt_per_unit) > _max_jump():
            problems.append(f"{currency} moved from {_plain(previous.kzt_per_unit)} ({_d(previous.rate_date)}) "
                            f"to {_plain(per_unit)}: more than {_max_jump():.0%}.")
            continue
        wanted[currency] = (item, per_unit)
    if problems:
        raise ImportRefused(f"Rates of {_d(day)} not imported: {' '.join(problems)}")

    for _attempt in range(2):  # a concurrent import of the same date wins the insert race once
        try:
            with transaction.atomic():
                result.manual_differs = {}
                created, unchanged = _store(day=day, wanted=wanted, requested=requested,
                                            allow_jump=allow_jump, reason=reason, actor=actor,
                                            manual_differs=result.manual_differs)
            break
        except IntegrityError:
            continue
    else:
        raise ImportRefused(f"Rates of {_d(day)} could not be stored (concurrent writes).")
    result.created, result.unchanged = created, unchanged
    result.fallback = {c: rate_on(currency=c, on=requested or day) for c in offered}
    return result


def _store(*, day, wanted, requested, allow_jump, reason, actor, manual_differs):
    stored = {r.currency: r for r in ExchangeRate.objects.filter(rate_date=day, currency__in=list(wanted))}
    differs = {c: per_unit for c, (_item, per_unit) in wanted.items()
               if c in stored and stored[c].kzt_per_unit != per_unit}
    conflicts = [
        f"{c} is already stored for {_d(day)} as {_plain(stored[c].kzt_per_unit)} ({stored[c].source}), "
        f"the feed now says {_plain(per_unit)}."
        for c, per_unit in differs.items() if stored[c].source not in KEPT_SOURCES
    ]
    if conflicts:  # two official answers for one date: something is wrong with the feed
        raise ImportRefused(" ".join(conflicts))
    # A rate staff entered ahead of the feed, or a demo rate (payments may be charged at it
    # already, and a stored rate is never edited) stays; the other currencies of the day are imported, and
    # the difference is reported (ImportResult.manual_differs) for staff to look at.
    manual_differs.update({c: (stored[c], per_unit) for c, per_unit in differs.items()})
    created, unchanged = [], []
    for currency, (item, per_unit) in wanted.items():
        if currency in stored:
            unchanged.append(stored[currency])
            continue
        rate = ExchangeRate.objects.create(currency=currency, rate_date=day, kzt_per_unit=per_unit,
                                           quant=item.quant, source=ExchangeRate.Source.NBK,
                                           reason=reason.strip()[:255] if allow_jump else "")
        previous = _previous(currency, day)
        events.record(
            verb="exchange_rate.imported", subject=rate, actor=actor,
            actor_kind=Event.ActorKind.STAFF if actor else Event.ActorKind.SYSTEM,
            data={"currency": currency, "rate_date": day.isoformat(), "published": str(item.published),
                  "quant": item.quant, "kzt_per_unit": str(per_unit),
                  "requested_date": requested.isoformat() if requested else None,
                  "previous": ({"rate_date": previous.rate_date.isoformat(),
                                "kzt_per_unit": str(previous.kzt_per_unit)} if previous else None),
                  "jump_accepted": allow_jump, "reason": reason.strip() if allow_jump else ""},
        )
        created.append(rate)
    return created, unchanged


def rates_import_from_feed(*, on: date, allow_jump: bool = False, reason: str = "", actor=None) -> ImportResult:
    """Fetch (outside any transaction) and import one date. Raises nbk.FeedUnavailable,
    nbk.FeedMalformed or ImportRefused."""
    answer = nbk.get_rates(on)
    return rates_import(answer=answer, requested=on, allow_jump=allow_jump, reason=reason, actor=actor)


def alert_staff(*, subject: str, body: str, problem: str | None = None) -> bool:
    """E-mail staff about the rates import, at most once a day per distinct problem (by
    default its subject and body; `problem` names it when the body lists changing details,
    and should: the text is in STAFF_RECORDS_LANGUAGE, and a `problem` key written without
    it keeps the once-a-day rule across a change of that setting).
    The mail goes from the retried alert task; a message that could not even be queued
    frees the day's slot, so the next run alerts again."""
    from soldee.tasks import staff_alert

    key = "nbk-alert:" + hashlib.sha256((problem or f"{subject}\n{body}").encode()).hexdigest()
    if not cache.add(key, 1, timeout=24 * 3600):
        return False
    try:
        staff_alert.delay(subject, body)
    except Exception:
        cache.delete(key)
        raise
    return True


# --- Staff entering a rate by hand ----------------------------------------------------------

class ManualRateRefused(ValueError):
    pass


def manual_rate_problem(*, currency: str, rate_date: date, per_unit: Decimal,
                        allow_jump: bool) -> tuple[str, str] | None:
    """Why a rate typed by staff must not be stored as it is, as (what is wrong: "date" or
    "jump", message), or None: a stored rate is evidence and is never edited, and
    payments are charged at it at once."""
    latest_date = timezone.localdate() + timedelta(days=1)  # the NBK publishes tomorrow's rate today
    if rate_date > latest_date:
        return "date", _("The National Bank has not published a rate for %(date)s yet: a rate can be entered for "
                         "tomorrow at the latest.") % {"date": rate_date.strftime("%d.%m.%Y")}
    # The neighbours: the rate before it, and for a date filled in later the rate after it.
    neighbours = [_previous(currency, rate_date), ExchangeRate.objects.filter(
        currency=currency, rate_date__gt=rate_date).order_by("rate_date").first()]
    for other in neighbours:
        if other is not None and not allow_jump and _jump(per_unit, other.kzt_per_unit) > _max_jump():
            return "jump", _("%(per_unit)s ₸ per 1 %(currency)s is %(jump)s%% away from the rate of %(date)s "
                             "(%(previous)s ₸). Check the figure and the quantity; if the rate really moved that "
                             "much, tick the confirmation.") % {
                # format_rate, not normalize(): 700 read "7E+2" (found by the staff explorer)
                "per_unit": format_rate(per_unit), "currency": currency,
                "jump": (_jump(per_unit, other.kzt_per_unit) * 100).quantize(Decimal("1")),
                "date": other.rate_date.strftime("%d.%m.%Y"), "previous": format_rate(other.kzt_per_unit)}
    if not allow_jump and all(other is None for other in neighbours):
        # The first rate of a currency: nothing to compare a typo with, so staff see what a
        # price would become and confirm it.
        from plans.models import Plan

        price = Plan.objects.for_sale().order_by("price_minor").values_list("price_minor", flat=True).first()
        example = ""
        if price:
            converted = convert_kzt(kzt_amount_minor=price, currency=currency, kzt_per_unit=per_unit)
            example = " " + _("At this rate %(kzt)s would be charged as %(converted)s.") % {
                "kzt": format_money(price, "KZT"), "converted": format_money(converted, currency)}
        return "jump", _("There is no earlier rate of %(currency)s to compare with.") % {"currency": currency} + \
            example + " " + _("Check the figure and the quantity, then tick the confirmation.")
    return None


def rate_enter_manually(*, currency: str, rate_date: date, published: Decimal, quant: int, reason: str,
                        by, allow_jump: bool = False) -> ExchangeRate:
    """A staff member records a rate (tenge per `quant` units) with a reason, e.g. when the
    feed is down or to accept a real jump. One transaction, one event. Refused
    (ManualRateRefused) for a date the NBK cannot have published yet, or a move of more than
    EXCHANGE_RATE_MAX_JUMP from the previous rate unless `allow_jump` (a typo is otherwise
    charged to every non-resident at once and can never be edited)."""
    currency = currency.strip().upper()
    if not reason or not reason.strip():
        raise ValueError("a manually entered rate needs a reason")
    if published <= 0 or quant < 1:
        raise ValueError("a rate must be positive")
    per_unit = _per_unit(published, quant)
    if per_unit <= 0:
        raise ValueError("the rate is too small to store")
    problem = manual_rate_problem(currency=currency, rate_date=rate_date, per_unit=per_unit, allow_jump=allow_jump)
    if problem:
        raise ManualRateRefused(problem[1])
    with transaction.atomic():
        rate = ExchangeRate.objects.create(currency=currency, rate_date=rate_date, kzt_per_unit=per_unit,
                                           quant=quant, source=ExchangeRate.Source.MANUAL,
                                           reason=reason.strip()[:255], entered_by=by)
        previous = _previous(currency, rate_date)
        events.record(
            verb="exchange_rate.entered", subject=rate, actor=by, actor_kind=Event.ActorKind.STAFF,
            data={"currency": currency, "rate_date": rate_date.isoformat(), "published": str(published),
                  "quant": quant, "kzt_per_unit": str(per_unit), "reason": reason.strip(),
                  "jump_confirmed": allow_jump,
                  "previous": ({"rate_date": previous.rate_date.isoformat(),
                                "kzt_per_unit": str(previous.kzt_per_unit),
                                "jump": str(_jump(per_unit, previous.kzt_per_unit).quantize(Decimal("0.0001")))}
                               if previous else None)},
        )
    return rate
