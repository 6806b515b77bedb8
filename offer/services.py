"""Legal documents: which version is in force, publishing, and the acceptance record."""

from __future__ import annotations

from pathlib import Path

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from soldee import events
from soldee.models import Event

from .models import Acceptance, AcceptedDocument, LegalDocument, sha256_of

DATA_DIR = Path(__file__).resolve().parent / "data"

# The initial versions, shipped with the code as data (effective 2025-11-01).
INITIAL_DOCUMENTS = [
    (LegalDocument.Kind.OFFER, "Public Offer", "public-offer-2025-11-01.txt"),
    (LegalDocument.Kind.PRIVACY, "Privacy Policy", "privacy-policy-2025-11-01.txt"),
    (LegalDocument.Kind.TERMS, "Terms of Use", "terms-of-use-2025-11-01.txt"),
]


def today_almaty():
    return timezone.localdate()  # TIME_ZONE is Asia/Almaty


def published(kind: str):
    return LegalDocument.objects.filter(kind=kind, status=LegalDocument.Status.PUBLISHED)


def document_in_force(kind: str, on=None) -> LegalDocument | None:
    """The newest published version whose effective date has come."""
    return (
        published(kind).filter(effective_date__lte=on or today_almaty())
        .order_by("-effective_date", "-published_at", "-id").first()
    )


def documents_in_force(on=None) -> dict[str, LegalDocument]:
    found = {kind: document_in_force(kind, on) for kind in LegalDocument.Kind.values}
    return {kind: doc for kind, doc in found.items() if doc is not None}


def documents_upcoming(on=None) -> list[LegalDocument]:
    """Versions already published whose effective date is still to come (the newest of each
    kind): a buyer is shown them next to the versions they accept now, as continued use
    after that date accepts them (clause 11)."""
    upcoming = []
    for kind in LegalDocument.Kind.values:
        doc = (published(kind).filter(effective_date__gt=on or today_almaty())
               .order_by("-effective_date", "-published_at", "-id").first())
        if doc is not None:
            upcoming.append(doc)
    return upcoming


def accepted_versions(customer_ids, *, before: Acceptance | None = None) -> dict[tuple[int, str], int]:
    """{(customer id, document kind): the id of the version of that kind each customer
    accepted last}, by payment or by continued use; with `before`, as it stood before that
    acceptance. The one reading of "the version accepted" for the renewal's continued-use
    acceptance, the account's amendment notice and the agreement copy."""
    from django.db.models import Q

    rows = AcceptedDocument.objects.filter(acceptance__customer_id__in=list(customer_ids))
    if before is not None:
        rows = rows.filter(Q(acceptance__accepted_at__lt=before.accepted_at)
                           | Q(acceptance__accepted_at=before.accepted_at, acceptance_id__lt=before.pk))
    last: dict[tuple[int, str], int] = {}
    for customer_id, kind, document_id in (rows.order_by("acceptance__accepted_at", "acceptance_id")
                                           .values_list("acceptance__customer_id", "kind", "document_id")):
        last[(customer_id, kind)] = document_id  # ascending: the newest acceptance wins
    return last


def pin(document: LegalDocument) -> dict:
    return {"id": document.pk, "kind": document.kind, "label": document.label, "sha256": document.sha256}


def document_publish(*, document_id: int, by=None) -> LegalDocument:
    """draft → published. The effective date must not be in the past."""
    with transaction.atomic():
        document = LegalDocument.objects.select_for_update().get(pk=document_id)
        if document.is_published:
            return document
        if document.effective_date < today_almaty():
            raise ValueError(_("The effective date of a new version cannot be in the past."))
        document.status = LegalDocument.Status.PUBLISHED
        document.published_at = timezone.now()
        document.save()
        events.record(verb="document.published", subject=document, actor=by,
                      actor_kind=Event.ActorKind.STAFF if by else Event.ActorKind.SYSTEM,
                      data={"kind": document.kind, "label": document.label,
                            "effective_date": document.effective_date.isoformat(),
                            "sha256": document.sha256})
        # Clause 11, Privacy Policy 9.1: customers are told by e-mail of every amendment
        # (the Offer, the Privacy Policy, the Terms of Use), in batches.
        from . import tasks

        transaction.on_commit(lambda: tasks.offer_amendment_notify.delay(document.pk))
    return document


def seed_initial_documents() -> list[LegalDocument]:
    """Load the shipped initial versions (idempotent)."""
    created = []
    for kind, title, filename in INITIAL_DOCUMENTS:
        body = (DATA_DIR / filename).read_text(encoding="utf-8")
        doc = LegalDocument.objects.filter(kind=kind, label="2025-11-01").first()
        if doc is None:
            doc = LegalDocument.objects.create(
                kind=kind, label="2025-11-01", title=title, body=body,
                effective_date=timezone.datetime(2025, 11, 1).date(),
                status=LegalDocument.Status.PUBLISHED, published_at=timezone.now(),
            )
            events.record(verb="document.published", subject=doc,
                          data={"kind": kind, "label": doc.label, "sha256": doc.sha256})
            created.append(doc)
    return created


def acceptance_record(*, payment, plan_code: str, plan_name: str, price_minor: int, currency: str,
                      kind: str = Acceptance.Kind.PAYMENT) -> Acceptance:
    """Called inside the payment's settlement transaction: the payment IS the
    acceptance. Records the exact versions pinned at checkout with their hashes."""
    pinned = payment.pinned_documents
    documents = {d.pk: d for d in LegalDocument.objects.filter(pk__in=[p["id"] for p in pinned])}
    for p in pinned:
        doc = documents.get(p["id"])
        if doc is None or doc.sha256 != p["sha256"] or sha256_of(doc.body) != doc.sha256:
            raise ValueError(f"pinned document {p} does not match the stored text")
    profile = getattr(payment.customer, "profile", None)
    acceptance = Acceptance.objects.create(
        kind=kind, customer=payment.customer, payment=payment, plan_code=plan_code,
        plan_name=plan_name, price_minor=price_minor, currency=currency,
        customer_snapshot=profile.snapshot() if profile else {"email": payment.customer.email},
        payment_reference=payment.gateway_ref or str(payment.public_id),
        accepted_at=payment.paid_at, ip_address=payment.client_ip, user_agent=payment.user_agent,
    )
    AcceptedDocument.objects.bulk_create(
        [AcceptedDocument(acceptance=acceptance, document=documents[p["id"]], kind=p["kind"],
                          sha256=p["sha256"]) for p in pinned]
    )
    events.record(verb="offer.amendment_accepted" if kind == Acceptance.Kind.CONTINUED_USE else "offer.accepted",
                  subject=acceptance, customer=payment.customer,
                  actor_kind=Event.ActorKind.CUSTOMER, actor=payment.customer,
                  data={"kind": kind, "payment": str(payment.public_id),
                        "documents": {p["kind"]: [p["label"], p["sha256"]] for p in pinned}})
    return acceptance
