import logging

from celery import shared_task
from django.db import DatabaseError
from django.utils import timezone

from billing.gateways import GatewayError
from soldee.emails import send_customer_email

from . import services
from .models import ErrorReport, Refund, RefundRequest

log = logging.getLogger(__name__)

_MODELS = {
    "error_report": (ErrorReport, "report"),
    "refund_request": (RefundRequest, "request"),
    "refund": (Refund, "refund"),
}


@shared_task(bind=True, max_retries=10, acks_late=True)
def refund_execute(self, refund_id: int) -> str:
    """Send an approved refund to the gateway. Idempotent (the gateway de-duplicates on
    the refund's key), so acks_late and retries are safe. Backoff 30 s .. 1 h; after the
    last retry the refund stays `executing` for the sweeper or a staff retry."""
    try:
        return services.refund_execute(refund_id=refund_id).status
    except GatewayError as exc:
        raise self.retry(exc=exc, countdown=min(30 * 2 ** self.request.retries, 3600)) from exc


@shared_task
def refund_sweep() -> int:
    """Refunds approved but not finished for 15 minutes (lost task, worker died, retries
    exhausted): execute again. Safe to run concurrently with the task itself."""
    cutoff = timezone.now() - timezone.timedelta(minutes=15)
    ids = list(Refund.objects.filter(status__in=[Refund.Status.PENDING, Refund.Status.EXECUTING],
                                     updated_at__lt=cutoff).values_list("pk", flat=True)[:200])
    for pk in ids:
        refund_execute.delay(pk)
    return len(ids)


@shared_task(bind=True, max_retries=5, default_retry_delay=60, acks_late=True)
def refund_request_for_unapplied(self, payment_id: int) -> int | None:
    """A paid payment bought nothing: open a refund request for it (idempotent)."""
    try:
        request = services.refund_request_open_unapplied(payment_id=payment_id)
    except DatabaseError as exc:
        raise self.retry(exc=exc) from exc
    return request.pk if request else None


@shared_task
def error_deadline_sweep() -> int:
    """Beat: critical-error reports past their deadline unresolved (customer and staff told once)."""
    return services.error_reports_deadline_sweep()


@shared_task
def unapplied_payments_sweep() -> int:
    """Beat: a paid payment that bought nothing and still has no refund request (its
    message was lost: broker down, worker died) gets one. Idempotent."""
    return services.refund_requests_open_for_unapplied()


@shared_task(bind=True, max_retries=5, default_retry_delay=60, acks_late=True)
def customer_email(self, template: str, model: str, pk: int, key: str = "") -> None:
    from .selectors import full_refund_effect

    model_cls, name = _MODELS[model]
    obj = model_cls.objects.select_related("customer").get(pk=pk)
    context = {name: obj}
    if name == "request":
        # What a full refund does to the subscription, worded in the e-mail's language (a
        # callable: the template calls it inside the customer's language).
        context["effect"] = lambda: full_refund_effect(obj.payment)
    send_customer_email(user=obj.customer, template=template, context=context,
                        idempotency_key=f"{template}:{pk}" + (f":{key}" if key else ""))
