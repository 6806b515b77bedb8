"""The Celery app. Tasks live in each app's tasks.py; the beat schedule is in settings."""

import logging
import os

from celery import Celery
from celery.signals import beat_init, worker_init
from kombu.transport import TRANSPORT_ALIASES

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "soldee.settings")
# The embedded broker writes each message whole before a worker can see it (soldee/broker.py).
TRANSPORT_ALIASES["filesystem"] = "soldee.broker:Transport"

app = Celery("soldee")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@worker_init.connect
@beat_init.connect
def _refuse_at_start(sender=None, **kwargs):
    """The system checks Celery does not run, which must stop a worker or beat (checks.
    STARTUP_CHECKS): zone data older than 2024a would put every term, deadline and document
    an hour off (E009); a staff language the portal does not have would write staff alerts
    in none anyone chose (E010). SystemExit, since Celery logs and carries on past any
    Exception a signal handler raises."""
    from django.core.exceptions import ImproperlyConfigured

    from soldee.checks import refuse_at_start

    try:
        refuse_at_start()
    except ImproperlyConfigured as exc:
        logging.getLogger(__name__).critical("%s", exc)
        raise SystemExit(str(exc)) from exc


@beat_init.connect
def _first_heartbeats(sender=None, **kwargs):
    """Beat just started: the heartbeat and a renewal sweep go out now, not a period later,
    so /health/all/ is green within seconds of a (re)start instead of failing for a minute
    on every deployment. Both are safe to run at any time."""
    for name in ("soldee.tasks.beat_heartbeat", "subscriptions.tasks.renewal_sweep"):
        try:
            app.send_task(name)
        except Exception:  # noqa: BLE001 - the schedule sends them again a period later
            logging.getLogger(__name__).exception("could not send %s at beat start", name)
