"""The PDFs a staff evidence bundle (clause 10) needs: the agreement of every acceptance and
every receipt, refund note and invoice, as the customer gets them.

An agreement PDF is otherwise rendered only when the customer asks for a copy (clause 5.4),
and a payment document's PDF after its row is written (a render that failed leaves it
without one). `missing_pdfs` says what a bundle would lack; `render_missing` (a Celery task:
WeasyPrint is slow, never in the staff member's request) renders it with the customer's own
renderers and stores it where the customer's copies are kept: an `AgreementCopy` of the
acceptance, the file of the `PaymentDocument`. Nothing recorded is changed: a copy is added,
a document's empty file is filled once, as its own render would have done."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

from celery.exceptions import SoftTimeLimitExceeded
from django.contrib.auth import get_user_model
from django.db import transaction
from django.utils import formats, timezone
from django.utils.translation import gettext as _

from soldee import events
from soldee.models import Event

log = logging.getLogger(__name__)


@dataclass
class MissingPdfs:
    acceptances: list = field(default_factory=list)  # Acceptance rows without an AgreementCopy
    documents: list = field(default_factory=list)  # PaymentDocument rows without a file
    payments_without_receipt: list = field(default_factory=list)  # succeeded, no receipt row: not renderable

    @property
    def renderable(self) -> int:
        return len(self.acceptances) + len(self.documents)

    def __bool__(self) -> bool:
        return bool(self.renderable or self.payments_without_receipt)

    def lines(self) -> list[str]:
        """One line per missing PDF, in the reader's language."""
        out = [_("Agreement of payment %(reference)s (accepted %(at)s)") % {
            "reference": a.payment_reference,
            "at": formats.date_format(timezone.localtime(a.accepted_at), "DATETIME_FORMAT")}
            for a in self.acceptances]
        out += [str(d) for d in self.documents]
        out += [_("Payment %(id)s has no receipt record") % {"id": p.public_id}
                for p in self.payments_without_receipt]
        return out


def customer_label(customer) -> str:
    """The customer as the staff e-mail names them: "ТОО «Көктем», buyer@example.com
    (<public id>)" (the public id alone, before, said nothing to a reader)."""
    from accounts.models import CustomerProfile

    name = CustomerProfile.objects.filter(user=customer).values_list("name", flat=True).first()
    who = ", ".join(part for part in (name, customer.email) if part)
    return f"{who} ({customer.public_id})" if who else str(customer.public_id)


def missing_pdfs(customer) -> MissingPdfs:
    from billing.models import Payment, PaymentDocument
    from offer.models import Acceptance

    return MissingPdfs(
        acceptances=list(Acceptance.objects.filter(customer=customer, agreement_copy__isnull=True)
                         .order_by("accepted_at", "pk")),
        documents=list(PaymentDocument.objects.filter(customer=customer, file="").order_by("created_at", "pk")),
        payments_without_receipt=list(
            Payment.objects.filter(customer=customer, status=Payment.Status.SUCCEEDED)
            .exclude(documents__doc_type=PaymentDocument.DocType.RECEIPT).order_by("created_at", "pk")),
    )


def render_missing(*, customer_id: int, staff_id: int) -> dict:
    """Render every PDF the customer's evidence bundle lacks (no transaction open), one by
    one: a failure is reported and the rest are still rendered (past the task's soft time
    limit it stops, `unfinished`; what is rendered is kept). One `evidence.pdfs_rendered`
    event names the staff member who asked, what was rendered and what failed. Returns that
    event's data."""
    User = get_user_model()
    customer = User.objects.get(pk=customer_id)
    staff = User.objects.get(pk=staff_id)
    missing = missing_pdfs(customer)
    done = {"agreement_copies": [], "documents": [], "failed": []}
    try:
        _render(missing, done)
    except SoftTimeLimitExceeded:
        # Many PDFs: what is rendered is stored; exporting again queues the rest.
        done["unfinished"] = True
    if any(done.values()):
        with transaction.atomic():
            events.record(verb="evidence.pdfs_rendered", subject=customer, customer=customer, actor=staff,
                          actor_kind=Event.ActorKind.STAFF, data=done)
    return done


def _render(missing: MissingPdfs, done: dict) -> None:
    from billing import documents
    from offer import agreement_copies

    for acceptance in missing.acceptances:
        try:
            copy, rendered = agreement_copies.copy_for_evidence(acceptance_id=acceptance.pk)
        except SoftTimeLimitExceeded:
            raise
        except Exception as exc:
            log.exception("rendering the agreement of acceptance %s for evidence failed", acceptance.pk)
            done["failed"].append({"acceptance": acceptance.pk, "error": repr(exc)[:300]})
            continue
        if rendered:
            done["agreement_copies"].append({"acceptance": acceptance.pk, "copy": copy.pk, "sha256": copy.sha256,
                                             "offer": getattr(copy.acceptance.offer_document, "label", "")})
    for document in missing.documents:
        try:
            document = documents.document_render(document_id=document.pk)  # logs document.*_rendered
        except SoftTimeLimitExceeded:
            raise
        except Exception as exc:
            log.exception("rendering payment document %s for evidence failed", document.pk)
            done["failed"].append({"document": document.number, "error": repr(exc)[:300]})
            continue
        done["documents"].append({"document": document.number, "sha256": document.sha256})
