"""Thin Celery tasks for the agreement copies and offer amendments."""

import logging

from celery import shared_task
from django.conf import settings
from django.contrib.auth import get_user_model

from soldee.emails import send_customer_email
from soldee.tasks import fan_out

from . import agreement_copies, amendments
from .models import AgreementCopyRequest, LegalDocument

log = logging.getLogger(__name__)


def _batch_size() -> int:
    return int(getattr(settings, "OFFER_NOTICE_BATCH_SIZE", 200))


@shared_task(bind=True, max_retries=3, acks_late=True)
def render_agreement_copy(self, request_id: int) -> None:
    """Render the agreement PDF (once per acceptance); a failure is recorded on the
    request (status failed) and retried with backoff."""
    try:
        agreement_copies.render_copy(request_id=request_id)
    except Exception as exc:
        log.exception("rendering agreement copy request %s failed", request_id)
        raise self.retry(exc=exc, countdown=min(30 * 2 ** self.request.retries, 600)) from exc


@shared_task(bind=True, max_retries=3, acks_late=True)
def render_agreement_download(self, acceptance_id: int) -> None:
    """Render the agreement PDF that "Download the agreement (PDF)" asked for (once per
    acceptance); a failure is counted on its AgreementCopyRender and retried with backoff."""
    try:
        agreement_copies.render_for_download(acceptance_id=acceptance_id)
    except Exception as exc:
        log.exception("rendering the agreement PDF of acceptance %s for its download failed", acceptance_id)
        raise self.retry(exc=exc, countdown=min(30 * 2 ** self.request.retries, 600)) from exc


@shared_task
def agreement_copy_sweep() -> int:
    """Re-send the render of copy requests left waiting, and of downloads' PDFs left
    unrendered (a lost task, retries used up)."""
    return (fan_out(render_agreement_copy, agreement_copies.requests_to_render_again())
            + fan_out(render_agreement_download, agreement_copies.downloads_to_render_again()))


def _copy_email(request_id: int, template: str) -> None:
    request = AgreementCopyRequest.objects.select_related("acceptance__customer").get(pk=request_id)
    send_customer_email(
        user=request.acceptance.customer, template=f"emails/{template}",
        context={"request": request, "acceptance": request.acceptance},
        idempotency_key=f"{template.replace('_', '-')}:{request.pk}",
    )


@shared_task(bind=True, max_retries=5, default_retry_delay=60, acks_late=True)
def agreement_copy_ready_email(self, request_id: int) -> None:
    _copy_email(request_id, "agreement_copy_ready")


@shared_task(bind=True, max_retries=5, default_retry_delay=60, acks_late=True)
def agreement_copy_posted_email(self, request_id: int) -> None:
    """The paper copy is in the post (clause 5.4): with its tracking number."""
    _copy_email(request_id, "agreement_copy_posted")


@shared_task
def offer_amendment_notify(document_id: int) -> int:
    """Fan out: one e-mail batch task per OFFER_NOTICE_BATCH_SIZE customers to tell of a
    new version of a legal document (any kind: the task keeps its name for queued messages)."""
    ids = amendments.customer_ids_to_notify(LegalDocument.objects.values_list("kind", flat=True).get(pk=document_id))
    size = _batch_size()
    for start in range(0, len(ids), size):
        offer_amendment_email_batch.delay(document_id, ids[start:start + size])
    return len(ids)


@shared_task(bind=True, max_retries=5, default_retry_delay=120, acks_late=True)
def offer_amendment_email_batch(self, document_id: int, customer_ids: list[int]) -> int:
    """E-mail one batch; the idempotency key makes a redelivered batch skip those sent."""
    document = LegalDocument.objects.get(pk=document_id)
    previous = (LegalDocument.objects.filter(kind=document.kind, status=LegalDocument.Status.PUBLISHED,
                                             published_at__lt=document.published_at)
                .order_by("-published_at", "-id").first())
    live = amendments.customer_ids_renewing(customer_ids)  # a renewal payment still to come
    sent = 0
    for user in get_user_model().objects.filter(pk__in=customer_ids, is_active=True).order_by("pk"):
        sent += send_customer_email(
            user=user, template="emails/offer_amended",
            context={"document": document, "previous": previous, "renews": user.pk in live},
            idempotency_key=f"offer-amended:{document.pk}:{user.pk}",
        )
    return sent
