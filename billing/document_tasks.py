"""Tasks for numbered documents (receipts, refund notes, invoices).

Celery autodiscovery loads only billing/tasks.py, which imports this module."""

import logging

from celery import shared_task

from soldee.tasks import fan_out

from . import documents

log = logging.getLogger(__name__)


@shared_task(bind=True, max_retries=5, acks_late=True)
def document_render(self, document_id: int) -> None:
    """Render and store the PDF of a receipt, refund note or invoice (idempotent: a
    stored PDF is never rendered again)."""
    try:
        documents.document_render(document_id=document_id)
    except Exception as exc:
        log.exception("rendering payment document %s failed", document_id)
        raise self.retry(exc=exc, countdown=min(30 * 2 ** self.request.retries, 900)) from exc


@shared_task
def document_render_sweep() -> int:
    """Re-send the render of receipts, refund notes and invoices left without their PDF
    (a lost task, retries used up), a bounded number of times (soldee.tasks)."""
    return fan_out(document_render, documents.documents_to_render_again())


@shared_task(acks_late=True)
def document_render_many(document_ids: list[int]) -> int:
    """A renewal batch's PDFs: one message from the settlement, fanned out here into one
    `document_render` task per document (each with its own retries and time limit)."""
    return fan_out(document_render, document_ids)
