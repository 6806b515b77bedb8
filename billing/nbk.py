"""The National Bank of Kazakhstan's public rates feed: an HTTP client and a parser.

`GET https://nationalbank.kz/rss/get_rates.cfm?fdate=DD.MM.YYYY` answers with

    <rates>
      <generator>…</generator><title>…</title><link>…</link>
      <description>…</description><copyright>…</copyright>
      <date>24.11.2026</date>
      <item>
        <fullname>ДОЛЛАР США</fullname>
        <title>USD</title>            ISO code
        <description>523.14</description>   tenge per `quant` units
        <quant>1</quant>              1, 10, 100, 1000 …
        <index>UP</index>             UP / DOWN / empty
        <change>+1.25</change>
      </item> …
    </rates>

and, on a date with no published rates, with an `<info>` element instead of items.

This module knows the wire format only; what to store and when to refuse is
`billing.exchange`'s business. No Django models here.
"""

import logging
import re
import time
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal, InvalidOperation

import httpx
from django.conf import settings

log = logging.getLogger(__name__)

DEFAULT_FEED_URL = "https://nationalbank.kz/rss/get_rates.cfm"
DEFAULT_TIMEOUT_SECONDS = 10
ATTEMPTS = 3  # transport errors and 5xx are tried this many times in one fetch
BACKOFF_SECONDS = 2.0  # 2 s, then 4 s between attempts
MAX_BODY_BYTES = 1_000_000  # the real answer is ~10 KB
_sleep = time.sleep  # tests replace it: they never sleep

_CODE = re.compile(r"^[A-Z]{3}$")


class FeedError(Exception):
    """The feed could not give us rates we can trust."""


class FeedUnavailable(FeedError):
    """Network trouble or an HTTP error status, after the bounded retries: try later."""


class FeedMalformed(FeedError):
    """The answer is not the feed's XML format (or holds a value that is not a number)."""


@dataclass(frozen=True)
class FeedRate:
    currency: str
    fullname: str
    published: Decimal  # tenge per `quant` units, exactly as published
    quant: int

    @property
    def kzt_per_unit(self) -> Decimal:
        return self.published / self.quant


@dataclass(frozen=True)
class FeedAnswer:
    rate_date: date | None
    rates: dict[str, FeedRate] = field(default_factory=dict)
    info: str = ""  # the feed's own words when it has no rates for the date

    @property
    def has_rates(self) -> bool:
        return bool(self.rates)


def feed_date(on: date) -> str:
    return on.strftime("%d.%m.%Y")


def parse_feed_date(text: str) -> date:
    return datetime.strptime(text.strip(), "%d.%m.%Y").date()


def _text(element, tag: str) -> str:
    child = element.find(tag)
    return (child.text or "").strip() if child is not None else ""


def parse(body: bytes) -> FeedAnswer:
    """Read one answer of the feed. Raises FeedMalformed for anything that is not it."""
    from xml.etree import ElementTree as ET

    if not body or not body.strip():
        raise FeedMalformed("The feed answered with an empty body.")
    if len(body) > MAX_BODY_BYTES:
        raise FeedMalformed(f"The feed's answer is implausibly large ({len(body)} bytes).")
    if b"<!DOCTYPE" in body[:2048].upper() or b"<!ENTITY" in body.upper():
        # The feed never declares a DTD; an HTML error page or an entity bomb does.
        raise FeedMalformed("The feed's answer is not the rates XML (it declares a DTD).")
    try:
        root = ET.fromstring(body)
    except ET.ParseError as exc:
        raise FeedMalformed(f"The feed's answer is not well-formed XML: {exc}")
    if root.tag != "rates":
        raise FeedMalformed(f"The feed's answer has <{root.tag}> where <rates> was expected.")

    raw_date = _text(root, "date")
    rate_date = None
    if raw_date:
        try:
            rate_date = parse_feed_date(raw_date)
        except ValueError:
            raise FeedMalformed(f"The feed's <date> is not DD.MM.YYYY: {raw_date!r}")

    items = root.findall("item")
    info = root.find("info")
    if not items:
        if info is not None:
            return FeedAnswer(rate_date=rate_date, info=" ".join((info.text or "").split()))
        raise FeedMalformed("The feed's answer has neither rates (<item>) nor a notice (<info>).")
    if rate_date is None:
        raise FeedMalformed("The feed's answer has rates but no <date>.")

    rates: dict[str, FeedRate] = {}
    for position, item in enumerate(items, start=1):
        code = _text(item, "title").upper()
        if not _CODE.match(code):
            raise FeedMalformed(f"Item {position} has no currency code: {code!r}")
        if code in rates:
            raise FeedMalformed(f"Currency {code} appears twice.")
        # No default for a missing <quant>: every answer of the feed carries it, and taking 1
        # for a currency quoted per 100 (UZS, KRW) would store a rate 100 times too high.
        raw_value, raw_quant = _text(item, "description"), _text(item, "quant")
        try:
            published = Decimal(raw_value)
        except InvalidOperation:
            published = None
        if published is None or not published.is_finite():
            raise FeedMalformed(f"The rate of {code} is not a number: {raw_value!r}")
        if not raw_quant.isdigit() or int(raw_quant) < 1:
            raise FeedMalformed(f"The quantity of {code} is not a positive whole number: {raw_quant!r}")
        rates[code] = FeedRate(currency=code, fullname=_text(item, "fullname"), published=published,
                               quant=int(raw_quant))
    return FeedAnswer(rate_date=rate_date, rates=rates, info=" ".join((info.text or "").split()) if info is not None else "")


def fetch(on: date) -> bytes:
    """The raw answer for one date. Bounded retries for transport errors and 5xx
    answers (short backoff); a 4xx is not retried. Raises FeedUnavailable."""
    url = getattr(settings, "NBK_FEED_URL", DEFAULT_FEED_URL)
    timeout = float(getattr(settings, "NBK_TIMEOUT_SECONDS", DEFAULT_TIMEOUT_SECONDS))
    problem = ""
    with httpx.Client(timeout=timeout, follow_redirects=True,
                      headers={"User-Agent": "soldee-portal/1 (exchange rates import)"}) as client:
        for attempt in range(1, ATTEMPTS + 1):
            try:
                response = client.get(url, params={"fdate": feed_date(on)})
            except httpx.TransportError as exc:  # timeouts, refused connections, TLS, …
                problem = f"{type(exc).__name__}: {exc}"
            else:
                if response.status_code == 200:
                    return response.content
                problem = f"HTTP {response.status_code}"
                if response.status_code < 500:
                    break
            log.warning("NBK feed for %s, attempt %s/%s: %s", on, attempt, ATTEMPTS, problem)
            if attempt < ATTEMPTS:
                _sleep(BACKOFF_SECONDS * 2 ** (attempt - 1))
    raise FeedUnavailable(f"The National Bank feed did not answer for {feed_date(on)}: {problem}")


def get_rates(on: date) -> FeedAnswer:
    return parse(fetch(on))
