from celery import shared_task
from django.db import transaction
from django.utils import timezone

from .models import Heartbeat


def heartbeat(name: str) -> None:
    """A periodic process proves it is alive (GET /health/all/ reports the age)."""
    Heartbeat.objects.update_or_create(name=name, defaults={"at": timezone.now()})


@shared_task(ignore_result=True)
def beat_heartbeat() -> None:
    """Sent by beat every minute; the health endpoint reports its age."""
    heartbeat("beat")


# --- One message per batch ---------------------------------------------------------------

def enqueue_on_commit(task, batch_task, ids) -> None:
    """After commit: `task(id)` for a single id, else ONE `batch_task(ids)` message, which
    fans out on a worker (`fan_out`) — a settlement of hundreds of payments sends one
    message per kind of follow-up, not hundreds."""
    ids = list(ids)
    # robust: a broker that refuses one message is logged and loses nothing else queued after
    # it (the receipt after the access grant, say); the sweeps make good what was lost.
    if len(ids) == 1:
        transaction.on_commit(lambda: task.delay(ids[0]), robust=True)
    elif ids:
        transaction.on_commit(lambda: batch_task.delay(ids), robust=True)


def fan_out(task, ids) -> int:
    """The body of a batch task: one `task(id)` each, with that task's own retries."""
    for pk in ids:
        task.delay(pk)
    return len(ids)


# --- PDFs left without their render ---------------------------------------------------------
# A render task lost on its way (the broker down as its row committed) or a render that failed
# past its Celery retries leaves a PDF missing for good: nothing else sends it again. The
# agreement copies (clause 5.4) and the receipts, refund notes and invoices each have a beat
# sweep that re-sends the renders whose row has not moved for RENDER_STALE_AFTER (no task of
# theirs can still be on its way: retries come back within minutes), up to RENDER_MAX_ATTEMPTS
# render attempts; after that the row waits for staff, who see it in the admin.
RENDER_STALE_AFTER = timezone.timedelta(minutes=30)
RENDER_MAX_ATTEMPTS = 10
# A download that finds no PDF sends its render to the worker (never renders in the web
# request): again only once this long has passed since one was last sent or tried, so
# "Try again" clicks queue nothing more.
RENDER_RESEND_AFTER = timezone.timedelta(minutes=10)


def renders_left_behind(queryset, *, moved, attempts: str = "attempts", limit: int = 100,
                        values: str = "pk") -> list[int]:
    """The ids of `queryset`'s rows (those still without their PDF) that have not moved for
    RENDER_STALE_AFTER, with fewer than RENDER_MAX_ATTEMPTS render attempts, oldest first.
    `moved`: when a row last moved (asked for, or its last render attempt), a field name or
    an expression; `attempts`: the field counting its render attempts; `values`: the field
    returned (the pk)."""
    from django.db.models import F

    return list(
        queryset.alias(render_moved=F(moved) if isinstance(moved, str) else moved)
        .filter(render_moved__lt=timezone.now() - RENDER_STALE_AFTER, **{f"{attempts}__lt": RENDER_MAX_ATTEMPTS})
        .order_by("render_moved").values_list(values, flat=True)[:limit]
    )


def _send_staff_alert(task, subject: str, body: str) -> None:
    from .emails import send_staff_alert

    try:
        send_staff_alert(subject=subject, body=body)
    except OSError as exc:
        raise task.retry(exc=exc) from exc


_ALERT_OPTIONS = dict(bind=True, max_retries=5, default_retry_delay=60)


@shared_task(**_ALERT_OPTIONS)
def staff_alert(self, subject: str, body: str) -> None:
    """A staff e-mail from a worker, retried: a mail server that is slow or down must not
    hold the request, webhook or settlement that raised the alert."""
    _send_staff_alert(self, subject, body)


# The names of the per-app alert tasks of earlier releases: messages already queued under
# them are still delivered, by the same body.
for _legacy in ("accounts.tasks.staff_alert", "refunds.tasks.staff_alert"):
    shared_task(name=_legacy, **_ALERT_OPTIONS)(_send_staff_alert)


def staff_alert_on_commit(subject: str, body: str) -> None:
    """Queue a staff alert when the current transaction commits (at once outside one).
    Robust: a broker that is down is logged and loses nothing already committed. Write
    `subject` and `body` inside `soldee.staff_language.staff_language()`."""
    transaction.on_commit(lambda: staff_alert.delay(subject, body), robust=True)
