"""Thin Celery tasks: take ids, load rows, call a service; each owns its retry policy."""

import logging
from datetime import timedelta

import httpx
from celery import shared_task
from django.conf import settings
from django.utils import timezone

from soldee.emails import send_customer_email
from soldee.tasks import fan_out

from . import (
    document_tasks,  # noqa: F401  (registers billing.document_tasks.document_render)
    rate_tasks,  # noqa: F401  (registers billing.rate_tasks.nbk_rates_import)
    services,
)
from .models import Payment, SandboxTransaction

log = logging.getLogger(__name__)


@shared_task(bind=True, acks_late=True, autoretry_for=(Exception,), max_retries=5, retry_backoff=60,
             retry_backoff_max=3600)
def receipt_email(self, payment_id: int) -> None:
    payment = Payment.objects.select_related("customer").get(pk=payment_id)
    send_customer_email(
        user=payment.customer,
        template="emails/receipt",
        context={"payment": payment},
        idempotency_key=f"receipt:{payment.pk}",
    )


@shared_task(acks_late=True)
def receipt_email_many(payment_ids: list[int]) -> int:
    """The receipts of a renewal batch: the settlement sends this ONE message, which fans out
    here, off the renewal path, into one `receipt_email` task per payment (each with its
    own retries and time limit; its idempotency key keeps a redelivered batch from mailing
    anyone twice)."""
    return fan_out(receipt_email, payment_ids)


@shared_task
def payment_expire_sweep() -> int:
    cutoff = timezone.now() - timedelta(hours=settings.CHECKOUT_PAYMENT_TTL_HOURS)
    ids = Payment.objects.filter(
        status=Payment.Status.PENDING, method=Payment.Method.CARD, created_at__lt=cutoff
    ).values_list("pk", flat=True)[:1000]
    return sum(services.payment_expire(payment_id=pk) for pk in ids)


# --- The sandbox gateway's own background work (it plays the remote side) ----------

@shared_task(bind=True, max_retries=8, acks_late=True)
def sandbox_notify(self, txn_id: str, event_id: str | None = None) -> None:
    """POST the signed notification to the portal, as a real gateway would; retried
    with exponential backoff while the portal does not answer 2xx. The event id is
    fixed on the first try so a redelivery is a true duplicate."""
    from .gateways import sandbox

    event_id = event_id or f"evt_{txn_id}_{self.request.id or 'direct'}"
    txn = SandboxTransaction.objects.get(pk=txn_id)
    body = sandbox.notification_body(txn, event_id=event_id)
    try:
        response = httpx.post(
            settings.SANDBOX_WEBHOOK_URL,
            content=body,
            headers={"Content-Type": "application/json", sandbox.SIGNATURE_HEADER: sandbox.sign(body)},
            timeout=10.0,
        )
        response.raise_for_status()
    except httpx.HTTPError as exc:
        log.warning("sandbox notification %s not delivered: %s", event_id, exc)
        raise self.retry(exc=exc, countdown=min(2 ** self.request.retries * 5, 600),
                         args=[txn_id, event_id]) from exc


@shared_task
def sandbox_delayed_approve(txn_id: str) -> None:
    from .gateways import sandbox

    sandbox.approve_delayed(txn_id)
