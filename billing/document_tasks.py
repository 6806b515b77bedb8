"""Tasks for numbered documents (receipts, refund notes, invoices).

Celery autodiscovery loads only billing/tasks.py, which imports this module."""

import logging

from celery import shared_task

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


@shared_task(acks_late=True)
def document_render_many(document_ids: list[int]) -> int:
    """Render a batch's PDFs one after another (one message per renewal batch instead of
    one per receipt). A document that fails is handed to `document_render`, which owns the
    retry policy; the rest of the batch goes on."""
    rendered = 0
    for document_id in document_ids:
        try:
            documents.document_render(document_id=document_id)
            rendered += 1
        except Exception:
            log.exception("rendering payment document %s failed; retrying it on its own", document_id)
            document_render.delay(document_id)
    return rendered
