"""The daily import of the National Bank of Kazakhstan's official rates (clause 6.2).

Imported by billing/tasks.py so Celery's autodiscovery registers the task under the
name `billing.rate_tasks.nbk_rates_import`."""

import logging
from datetime import date, timedelta

from celery import shared_task
from django.utils import timezone

from . import exchange, nbk

log = logging.getLogger(__name__)


@shared_task(bind=True, max_retries=5, default_retry_delay=30 * 60, acks_late=True)
def nbk_rates_import(self, on_iso: str | None = None, ahead_days: int = 0) -> str:
    """Import the rates of `on_iso` (default: today in Almaty, plus `ahead_days`). Network
    trouble is retried every 30 minutes (the client already retried a few times); a
    refusal (malformed answer, absurd values) is not retried. Either way staff are alerted
    and nothing is half-imported. Idempotent: safe to run again the same day.

    The evening run asks for tomorrow (`ahead_days=1`): the National Bank publishes the
    next day's rates the day before, so charges made just after midnight, before the
    00:15 run, are converted at the rate of their own date, not the day before's. Not
    published yet, or the feed away: that run gives up quietly, the day's own runs import
    and alert."""
    ahead = not on_iso and ahead_days > 0
    on = date.fromisoformat(on_iso) if on_iso else timezone.localdate() + timedelta(days=ahead_days)
    try:
        result = exchange.rates_import_from_feed(on=on)
    except nbk.FeedUnavailable as exc:
        if ahead:
            log.info("NBK rates for %s (ahead): %s", on, exc)
            return "unavailable"
        if self.request.retries < self.max_retries:
            # Pin the date: a retry after midnight still imports the day it was asked for.
            raise self.retry(exc=exc, args=[on.isoformat()])
        exchange.alert_staff(subject=f"NBK rates for {on:%d.%m.%Y} not imported",
                             body=f"{exc}\n\nThe feed did not answer after {self.max_retries} retries. "
                                  "Import them with `manage.py import_rates`, or enter them in the admin.")
        return "unavailable"
    except (nbk.FeedMalformed, exchange.ImportRefused) as exc:
        exchange.alert_staff(subject=f"NBK rates for {on:%d.%m.%Y} refused",
                             body=f"{exc}\n\nNothing was imported for this date. Check the feed, then run "
                                  "`manage.py import_rates` (--allow-jump --reason … for a real jump) "
                                  "or enter the rate by hand in the admin.")
        return "refused"
    log.info("NBK rates for %s:\n%s", on, result.summary())
    if result.manual_differs:
        exchange.alert_staff(
            subject=f"NBK rates for {on:%d.%m.%Y}: a rate entered by hand differs from the official one",
            body=result.summary() + "\n\nThe other currencies were imported. A stored rate is never edited: "
                                    "check the payments made at the hand-entered rate and refund any difference "
                                    "the customer is owed.")
    if result.no_data and ahead:
        return "no-data"
    if result.missing:
        exchange.alert_staff(subject=f"No usable NBK rate for {on:%d.%m.%Y}: {', '.join(result.missing)}",
                             body=result.summary() + "\n\nNon-residents paying in these currencies cannot "
                                                     "check out or renew until a rate is imported or entered.")
    return "no-data" if result.no_data else "imported"
