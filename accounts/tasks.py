"""Background work for the customer's personal-data rights (docs/personal-data.md)."""

import logging

from celery import shared_task
from django.contrib.auth import get_user_model
from django.utils import timezone

from soldee.emails import send_customer_email

from . import personal_data
from .models import DataExport

log = logging.getLogger(__name__)


@shared_task(bind=True, max_retries=3, acks_late=True)
def data_export_build(self, export_id: int) -> str:
    """Build the customer's ZIP. Idempotent: only a requested (or stale) export is built."""
    try:
        return personal_data.data_export_build(export_id=export_id).status
    except OSError as exc:  # storage hiccup: the export is marked failed, try again
        DataExport.objects.filter(pk=export_id, status=DataExport.Status.FAILED).update(
            status=DataExport.Status.REQUESTED)
        raise self.retry(exc=exc, countdown=60 * (self.request.retries + 1)) from exc


@shared_task
def data_export_sweep() -> dict:
    """Re-send exports stuck while requested/building (lost task), delete expired ones."""
    now = timezone.now()
    stuck = list(
        DataExport.objects.filter(status__in=[DataExport.Status.REQUESTED, DataExport.Status.BUILDING],
                                  requested_at__lt=now - personal_data.EXPORT_STALE_AFTER)
        .values_list("pk", flat=True)[:100])
    for pk in stuck:
        data_export_build.delay(pk)
    expired = list(DataExport.objects.filter(status=DataExport.Status.READY, expires_at__lte=now)
                   .values_list("pk", flat=True)[:500])
    for pk in expired:
        personal_data.data_export_expire(export_id=pk)
    return {"resent": len(stuck), "expired": len(expired)}


@shared_task(bind=True, max_retries=5)
def customer_email(self, user_id: int, template: str, context: dict, to: str | None = None,
                   language: str | None = None) -> bool:
    """`to`/`language`: for the goodbye e-mail, sent after the address was anonymised."""
    user = get_user_model().objects.get(pk=user_id)
    if language:
        user.language = language
    if not to and not user.is_active:
        return False  # nothing is sent to an anonymised account
    try:
        return send_customer_email(user=user, template=template, context=context,
                                   to=[to] if to else None,
                                   idempotency_key=f"{template}:{user_id}:{self.request.id or ''}")
    except OSError as exc:
        raise self.retry(exc=exc, countdown=60 * (self.request.retries + 1)) from exc
