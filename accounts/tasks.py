"""Background work for the customer's personal-data rights (docs/personal-data.md)."""

import logging

from celery import shared_task
from django.contrib.auth import get_user_model
from django.utils import timezone

from soldee.emails import send_customer_email
from soldee.tasks import fan_out

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
    except Exception:  # not tried again: the export is given up, staff are told
        personal_data.export_failed_alert(export_id=export_id)
        raise


@shared_task
def data_export_sweep() -> dict:
    """Re-send exports stuck while requested/building (lost task, failed past its retries),
    up to RENDER_MAX_ATTEMPTS builds each, as the documents' render sweep does
    (personal_data.exports_to_build_again), then give them up (marked failed, one staff
    alert: personal_data.exports_give_up); delete expired ones."""
    now = timezone.now()
    stuck = personal_data.exports_to_build_again()
    fan_out(data_export_build, stuck)
    given_up = personal_data.exports_give_up()  # builds used up: marked failed, staff told once
    expired = list(DataExport.objects.filter(status=DataExport.Status.READY, expires_at__lte=now)
                   .values_list("pk", flat=True)[:500])
    for pk in expired:
        personal_data.data_export_expire(export_id=pk)
    return {"resent": len(stuck), "given_up": len(given_up), "expired": len(expired)}


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


# A customer of many years may have dozens of PDFs to render: more time than the default.
@shared_task(bind=True, acks_late=True, soft_time_limit=1500, time_limit=1560)
def evidence_pdfs_render(self, customer_id: int, staff_id: int) -> dict:
    """Render the PDFs a staff member's evidence bundle lacks (agreements, receipts,
    invoices, refund notes: accounts/evidence.py), then e-mail them that it is ready to
    export again. A failed render is named in that e-mail; exporting again re-queues it."""
    from django.urls import reverse

    from . import evidence

    done = evidence.render_missing(customer_id=customer_id, staff_id=staff_id)
    User = get_user_model()
    staff, customer = User.objects.get(pk=staff_id), User.objects.get(pk=customer_id)
    failed = [f"acceptance #{f['acceptance']}" if "acceptance" in f else f"{f['document']}"
              for f in done["failed"]]
    send_customer_email(
        user=staff, template="accounts/emails/evidence_pdfs_ready",
        context={"customer": evidence.customer_label(customer),
                 "rendered": len(done["agreement_copies"]) + len(done["documents"]), "failed": failed,
                 "unfinished": done.get("unfinished", False),
                 "admin_url": reverse("admin:accounts_user_changelist") + f"?id={customer.pk}"},
        idempotency_key=f"evidence-pdfs-ready:{self.request.id or ''}" if self.request.id else None)
    return done
