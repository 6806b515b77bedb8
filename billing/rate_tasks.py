"""The daily import of the National Bank of Kazakhstan's official rates (clause 6.2).

Imported by billing/tasks.py so Celery's autodiscovery registers the task under the
name `billing.rate_tasks.nbk_rates_import`."""

import logging
from datetime import date, timedelta

from celery import shared_task
from django.utils import timezone
from django.utils.translation import gettext as _

from soldee.staff_language import staff_language

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
        with staff_language():
            exchange.alert_staff(
                subject=_("NBK rates for %(date)s not imported") % {"date": f"{on:%d.%m.%Y}"},
                body=f"{exc}\n\n" + _("The feed did not answer after %(retries)s retries. Import them with "
                                       "`manage.py import_rates`, or enter them in the admin.") % {
                    "retries": self.max_retries},
                problem=f"nbk-unavailable:{on.isoformat()}:{exc}")
        return "unavailable"
    except (nbk.FeedMalformed, exchange.ImportRefused) as exc:
        with staff_language():
            exchange.alert_staff(
                subject=_("NBK rates for %(date)s refused") % {"date": f"{on:%d.%m.%Y}"},
                body=f"{exc}\n\n" + _("Nothing was imported for this date. Check the feed, then run "
                                       "`manage.py import_rates` (--allow-jump --reason … for a real jump) or "
                                       "enter the rate by hand in the admin."),
                problem=f"nbk-refused:{on.isoformat()}:{exc}")
        return "refused"
    log.info("NBK rates for %s:\n%s", on, result.summary())
    if result.manual_differs:
        with staff_language():
            exchange.alert_staff(
                subject=_("NBK rates for %(date)s: a rate entered by hand differs from the official one") % {
                    "date": f"{on:%d.%m.%Y}"},
                body=result.summary() + "\n\n" + _(
                    "The other currencies were imported. A stored rate is never edited: check the payments made "
                    "at the hand-entered rate and refund any difference the customer is owed."),
                problem=f"nbk-manual-differs:{on.isoformat()}:{result.summary()}")
    if result.no_data and ahead:
        return "no-data"
    if result.missing:
        with staff_language():
            exchange.alert_staff(
                subject=_("No usable NBK rate for %(date)s: %(currencies)s") % {
                    "date": f"{on:%d.%m.%Y}", "currencies": ", ".join(result.missing)},
                body=result.summary() + "\n\n" + _(
                    "Non-residents paying in these currencies cannot check out or renew until a rate is imported "
                    "or entered."),
                problem=f"nbk-missing:{on.isoformat()}:{','.join(result.missing)}:{result.summary()}")
    return "no-data" if result.no_data else "imported"
