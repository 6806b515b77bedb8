from celery import shared_task
from django.db import transaction
from django.utils import timezone

from .models import Heartbeat


@shared_task(ignore_result=True)
def beat_heartbeat() -> None:
    """Sent by beat every minute; the health endpoint reports its age."""
    Heartbeat.objects.update_or_create(name="beat", defaults={"at": timezone.now()})


# --- One message per batch ---------------------------------------------------------------

def enqueue_on_commit(task, batch_task, ids) -> None:
    """After commit: `task(id)` for a single id, else ONE `batch_task(ids)` message, which
    fans out on a worker (`fan_out`) — a settlement of hundreds of payments sends one
    message per kind of follow-up, not hundreds."""
    ids = list(ids)
    if len(ids) == 1:
        transaction.on_commit(lambda: task.delay(ids[0]))
    elif ids:
        transaction.on_commit(lambda: batch_task.delay(ids))


def fan_out(task, ids) -> int:
    """The body of a batch task: one `task(id)` each, with that task's own retries."""
    for pk in ids:
        task.delay(pk)
    return len(ids)


@shared_task(bind=True, max_retries=5, default_retry_delay=60)
def staff_alert(self, subject: str, body: str) -> None:
    """A staff e-mail from a worker, retried: a mail server that is slow or down must not
    hold the request or settlement that raised the alert."""
    from .emails import send_staff_alert

    try:
        send_staff_alert(subject=subject, body=body)
    except OSError as exc:
        raise self.retry(exc=exc) from exc
