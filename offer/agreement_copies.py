"""Copies of the agreement: the PDF to download, and a paper copy by post on request
(offer clause 5.4).

The PDF needs no request: its first download sends its render to the worker
(`send_download_render`, an `AgreementCopyRender` keeps its attempts) and answers "being
prepared"; no web request renders (WeasyPrint is slow). A paper copy is a request:
requested → rendering → ready → printed → posted (failed: the render failed, retried).
The PDF is rendered ONCE per acceptance (`AgreementCopy`, one-to-one): a later request
for the same acceptance is ready at once and reuses the stored file. Rendering happens
with no transaction open; the result is attached afterwards.
"""

from __future__ import annotations

import hashlib
import logging

from django.conf import settings
from django.core.files.base import ContentFile
from django.db import IntegrityError, transaction
from django.db.models import F, Q
from django.db.models.functions import Coalesce
from django.template.loader import render_to_string
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from soldee import events
from soldee.locking import lock_customer as _lock_customer
from soldee.models import Event
from soldee.tasks import (
    RENDER_MAX_ATTEMPTS,
    RENDER_RESEND_AFTER,
    RENDER_STALE_AFTER,
    renders_left_behind,
)

from .models import (
    Acceptance,
    AgreementCopy,
    AgreementCopyRender,
    AgreementCopyRequest,
    LegalDocument,
    sha256_of,
)

log = logging.getLogger(__name__)

Status = AgreementCopyRequest.Status


class CopyRefused(Exception):
    """A transition that is not allowed; the message is shown to staff."""


# A render task lost on its way (the broker down as the request committed) or a render that
# failed past its Celery retries would leave the request waiting for good: the customer's
# repeat request returns the open one and queues nothing. The sweep re-sends a request that
# has not moved for this long, up to this many render attempts; after that it waits in the
# print-and-post queue, marked failed, for staff's "Render again" (soldee.tasks, shared with
# the receipts, refund notes and invoices).
SWEEP_STALE_AFTER = RENDER_STALE_AFTER
SWEEP_MAX_ATTEMPTS = RENDER_MAX_ATTEMPTS


def requests_to_render_again(*, limit: int = 100) -> list[int]:
    """The ids of copy requests still without their PDF that have not moved for
    SWEEP_STALE_AFTER (requested, rendering or failed), below SWEEP_MAX_ATTEMPTS."""
    return renders_left_behind(
        AgreementCopyRequest.objects.filter(status__in=[Status.REQUESTED, Status.RENDERING, Status.FAILED]),
        moved="updated_at", limit=limit)


def _actor_kind(by, customer_id) -> str:
    if by is None:
        return Event.ActorKind.SYSTEM
    return Event.ActorKind.CUSTOMER if by.pk == customer_id else Event.ActorKind.STAFF


# --- Customer: request a copy ----------------------------------------------------------

def request_copy(*, acceptance_id: int, by, postal_address: str = "",
                 recipient_name: str = "") -> tuple[AgreementCopyRequest, bool]:
    """Open a copy request (or return the open one). If the PDF of this acceptance is
    already stored, the request is ready at once: nothing is rendered again. The copy is
    posted to the profile's address, or to `postal_address` / `recipient_name` that staff
    type from a request by e-mail or phone (required for a deleted account).
    Returns (request, created)."""
    customer_id = Acceptance.objects.values_list("customer_id", flat=True).get(pk=acceptance_id)
    with transaction.atomic():
        _lock_customer(customer_id)
        acceptance = Acceptance.objects.select_related("customer").get(pk=acceptance_id)
        if not acceptance.customer.is_active and not postal_address.strip():
            # A deleted account's profile is anonymised: post only to the address they gave now.
            raise CopyRefused(_("The customer's account is deleted: type the postal address and the recipient "
                                "they gave in their request."))
        open_request = AgreementCopyRequest.objects.filter(
            acceptance=acceptance, status__in=AgreementCopyRequest.OPEN_STATUSES).first()
        if open_request is not None:
            return open_request, False
        profile = getattr(acceptance.customer, "profile", None)
        snapshot = acceptance.customer_snapshot or {}
        address = postal_address.strip() or ((profile.postal_address or profile.address) if profile else (
            snapshot.get("postal_address") or snapshot.get("address", "")))
        recipient = recipient_name.strip() or (profile.name if profile else snapshot.get("name", ""))
        copy = AgreementCopy.objects.filter(acceptance=acceptance).first()
        now = timezone.now()
        try:
            with transaction.atomic():
                request = AgreementCopyRequest.objects.create(
                    acceptance=acceptance, requested_by=by, postal_address=address,
                    recipient_name=recipient,
                    status=Status.READY if copy else Status.REQUESTED, copy=copy,
                    ready_at=now if copy else None,
                )
        except IntegrityError:  # the customer lock makes this unlikely; treat as done
            return AgreementCopyRequest.objects.get(
                acceptance=acceptance, status__in=AgreementCopyRequest.OPEN_STATUSES), False
        events.record(verb="agreement_copy.requested", subject=request, customer=acceptance.customer,
                      actor=by, actor_kind=_actor_kind(by, acceptance.customer_id),
                      # the address stays on the request (cleared when a deleted account's copy
                      # is posted), not in the append-only log
                      data={"acceptance": acceptance.pk, "reused_pdf": copy is not None})
        from . import tasks

        if copy is None:
            transaction.on_commit(lambda: tasks.render_agreement_copy.delay(request.pk))
        else:
            transaction.on_commit(lambda: tasks.agreement_copy_ready_email.delay(request.pk))
    return request, True


# --- Worker: render once -----------------------------------------------------------------

def render_copy(*, request_id: int) -> AgreementCopyRequest:
    """requested/failed → rendering → ready. Safe to run twice: a stored PDF is reused."""
    with transaction.atomic():
        request = AgreementCopyRequest.objects.select_for_update().get(pk=request_id)
        if request.status not in (Status.REQUESTED, Status.RENDERING, Status.FAILED):
            return request
        copy = AgreementCopy.objects.filter(acceptance_id=request.acceptance_id).first()
        if copy is None:
            previous = request.status
            request.status = Status.RENDERING
            request.attempts += 1
            request.save(update_fields=["status", "attempts", "updated_at"])
            events.record(verb="agreement_copy.rendering", subject=request,
                          customer=request.acceptance.customer,
                          data={"attempt": request.attempts, "from": previous})
    if copy is None:
        try:
            copy = _copy_store(acceptance_id=request.acceptance_id)
        except Exception as exc:
            with transaction.atomic():
                request = AgreementCopyRequest.objects.select_for_update().get(pk=request_id)
                if request.status == Status.RENDERING:
                    request.status = Status.FAILED
                    request.last_error = repr(exc)[:2000]
                    request.save(update_fields=["status", "last_error", "updated_at"])
                    events.record(verb="agreement_copy.failed", subject=request,
                                  customer=request.acceptance.customer,
                                  data={"error": request.last_error[:500]})
            raise
    return _mark_ready(request_id=request_id, copy=copy)


def copy_for_evidence(*, acceptance_id: int) -> tuple[AgreementCopy, bool]:
    """The acceptance's agreement PDF for a staff evidence bundle (clause 10): the stored
    copy when there is one, else rendered and stored exactly as the customer's copy would be
    (the same one-per-acceptance `AgreementCopy`, in the customer's language, from the
    versions the acceptance recorded), so a later request by the customer reuses it. No
    transaction may be open: the render is slow. Returns (copy, rendered now)."""
    copy = AgreementCopy.objects.filter(acceptance_id=acceptance_id).first()
    if copy is not None:
        return copy, False
    copy = _copy_store(acceptance_id=acceptance_id)
    return copy, True


def send_download_render(*, acceptance_id: int) -> bool:
    """"Download the agreement (PDF)" found no stored PDF: make sure its render is on its way
    to the worker, never rendering here (a web request must not: WeasyPrint is slow). Sent
    once: not while a paper copy's render is under way (it stores the same PDF), nor when
    one was sent or tried in the last RENDER_RESEND_AFTER (a customer's "Try again" sends
    nothing more), nor after RENDER_MAX_ATTEMPTS worker attempts (staff have been told).
    Sent after commit. No copy request is opened: nothing joins the print-and-post queue.
    Returns whether a render was sent."""
    if AgreementCopy.objects.filter(acceptance_id=acceptance_id).exists() or AgreementCopyRequest.objects.filter(
            acceptance_id=acceptance_id, status__in=[Status.REQUESTED, Status.RENDERING, Status.FAILED]).exists():
        return False
    now = timezone.now()
    try:
        with transaction.atomic():
            AgreementCopyRender.objects.create(acceptance_id=acceptance_id, created_at=now, render_attempted_at=now)
        sent = True
    except IntegrityError:  # asked for before: again only once the last one is long gone
        sent = bool(AgreementCopyRender.objects.filter(
            Q(render_attempted_at__isnull=True) | Q(render_attempted_at__lt=now - RENDER_RESEND_AFTER),
            acceptance_id=acceptance_id, render_attempts__lt=RENDER_MAX_ATTEMPTS,
        ).update(render_attempted_at=now))
    if sent:
        from . import tasks

        transaction.on_commit(lambda: tasks.render_agreement_download.delay(acceptance_id), robust=True)
    return sent


def render_for_download(*, acceptance_id: int) -> AgreementCopy:
    """Worker: render and store the acceptance's PDF for its download (the same
    one-per-acceptance `AgreementCopy` a paper copy reuses). Each attempt is counted on its
    `AgreementCopyRender` with its error; the attempt that uses up RENDER_MAX_ATTEMPTS tells
    staff. Safe to run twice: a stored PDF is not rendered again."""
    copy = AgreementCopy.objects.filter(acceptance_id=acceptance_id).first()
    if copy is not None:
        return copy
    render, _created = AgreementCopyRender.objects.get_or_create(acceptance_id=acceptance_id)
    pending = AgreementCopyRender.objects.filter(pk=render.pk)
    pending.update(render_attempts=F("render_attempts") + 1, render_attempted_at=timezone.now())
    try:
        copy = _copy_store(acceptance_id=acceptance_id)
    except Exception as exc:
        pending.update(render_error=repr(exc)[:2000])
        render.refresh_from_db()
        if render.render_attempts == RENDER_MAX_ATTEMPTS:
            _download_render_given_up(render)
        raise
    pending.update(render_error="")
    return copy


def _download_render_given_up(render: AgreementCopyRender) -> None:
    from soldee.staff_language import staff_language
    from soldee.tasks import staff_alert_on_commit

    acceptance = Acceptance.objects.select_related("customer").get(pk=render.acceptance_id)
    with staff_language():
        staff_alert_on_commit(
            _("Agreement PDF of acceptance #%(id)s: not rendered") % {"id": acceptance.pk},
            _("The agreement PDF that customer #%(customer)s asked to download could not be rendered in "
              "%(attempts)s attempts; the download says it is being prepared. Last error: %(error)s. Once the "
              "cause is fixed, export the customer's evidence bundle (admin → Users): it renders the PDF.") % {
                "customer": acceptance.customer_id, "attempts": render.render_attempts,
                "error": render.render_error[:500]})


def downloads_to_render_again(*, limit: int = 100) -> list[int]:
    """The acceptances whose download's render left no PDF (a lost task, retries used up)
    and has not moved for RENDER_STALE_AFTER, below RENDER_MAX_ATTEMPTS attempts."""
    return renders_left_behind(
        AgreementCopyRender.objects.filter(acceptance__agreement_copy__isnull=True),
        moved=Coalesce("render_attempted_at", "created_at"), attempts="render_attempts", limit=limit,
        values="acceptance_id")


def _copy_store(*, acceptance_id: int) -> AgreementCopy:
    """Render the PDF (no transaction open), store it, attach it once."""
    acceptance = Acceptance.objects.select_related("customer", "payment").get(pk=acceptance_id)
    language = getattr(acceptance.customer, "language", None) or "ru"
    pdf = render_agreement_pdf(acceptance, language=language)
    field = AgreementCopy._meta.get_field("file")
    storage = field.storage
    name = storage.save(field.generate_filename(None, "agreement.pdf"), ContentFile(pdf))
    try:
        with transaction.atomic():
            copy = AgreementCopy.objects.create(
                acceptance=acceptance, file=name, sha256=hashlib.sha256(pdf).hexdigest(),
                size=len(pdf), language=language,
            )
    except IntegrityError:  # a concurrent render stored it first: keep that one
        storage.delete(name)
        copy = AgreementCopy.objects.get(acceptance=acceptance)
    return copy


def _mark_ready(*, request_id: int, copy: AgreementCopy) -> AgreementCopyRequest:
    with transaction.atomic():
        request = AgreementCopyRequest.objects.select_for_update().get(pk=request_id)
        if request.status not in (Status.REQUESTED, Status.RENDERING, Status.FAILED):
            return request
        request.status = Status.READY
        request.copy = copy
        request.ready_at = timezone.now()
        request.last_error = ""
        request.save(update_fields=["status", "copy", "ready_at", "last_error", "updated_at"])
        events.record(verb="agreement_copy.ready", subject=request, customer=request.acceptance.customer,
                      data={"sha256": copy.sha256, "size": copy.size})
        from . import tasks

        transaction.on_commit(lambda: tasks.agreement_copy_ready_email.delay(request.pk))
    return request


# --- Staff: the print-and-post queue ------------------------------------------------------

def _transition(*, request_id: int, to: str, allowed_from: tuple, by, **fields) -> AgreementCopyRequest:
    customer_id = (AgreementCopyRequest.objects.filter(pk=request_id)
                   .values_list("acceptance__customer_id", flat=True).get())
    with transaction.atomic():
        _lock_customer(customer_id)
        request = AgreementCopyRequest.objects.select_for_update().get(pk=request_id)
        if request.status == to:
            return request
        if request.status not in allowed_from:
            raise CopyRefused(f"request #{request.pk} is {request.status}; cannot become {to}")
        previous = request.status
        request.status = to
        for name, value in fields.items():
            setattr(request, name, value)
        request.save()
        events.record(verb=f"agreement_copy.{to}", subject=request, customer=request.acceptance.customer,
                      actor=by, actor_kind=_actor_kind(by, customer_id),
                      data={"from": previous, **{k: str(v) for k, v in fields.items()}})
    return request


def mark_printed(*, request_id: int, by) -> AgreementCopyRequest:
    return _transition(request_id=request_id, to=Status.PRINTED, allowed_from=(Status.READY,), by=by,
                       printed_at=timezone.now())


def mark_posted(*, request_id: int, by, tracking_number: str) -> AgreementCopyRequest:
    tracking_number = (tracking_number or "").strip()
    if not tracking_number:
        raise CopyRefused("a tracking number is required to mark a copy posted")
    was = AgreementCopyRequest.objects.values_list("status", flat=True).get(pk=request_id)
    request = _transition(request_id=request_id, to=Status.POSTED,
                          allowed_from=(Status.READY, Status.PRINTED), by=by,
                          tracking_number=tracking_number[:64], posted_at=timezone.now())
    if not request.acceptance.customer.is_active:  # a deleted account's address: not kept once posted
        AgreementCopyRequest.objects.filter(pk=request.pk).update(postal_address="", recipient_name="")
    elif was != Status.POSTED:  # the customer learns it is on its way, and how to track it
        from . import tasks

        transaction.on_commit(lambda: tasks.agreement_copy_posted_email.delay(request.pk), robust=True)
    return request


# --- The PDF ---------------------------------------------------------------------------------

def agreement_context(acceptance: Acceptance) -> dict:
    from soldee.money import format_money
    from soldee.provider import provider_details

    accepted = list(acceptance.accepted_documents.select_related("document").order_by("kind"))
    offer = next((a for a in accepted if a.kind == LegalDocument.Kind.OFFER), None)
    if offer is None:
        raise ValueError(f"acceptance {acceptance.pk} has no accepted Public Offer")
    # The ACCEPTED version, checked against the hash recorded at acceptance.
    if offer.document.sha256 != offer.sha256 or sha256_of(offer.document.body) != offer.sha256:
        raise ValueError(f"the stored text of {offer.document} does not match the accepted hash")
    payment = acceptance.payment
    term = getattr(payment, "term", None)
    concluded = acceptance
    if acceptance.kind == Acceptance.Kind.CONTINUED_USE:
        # Amendments accepted by continued use (clause 11): the agreement itself was
        # concluded by the customer's last payment-acceptance before it.
        concluded = (Acceptance.objects.filter(customer_id=acceptance.customer_id, kind=Acceptance.Kind.PAYMENT,
                                               accepted_at__lte=acceptance.accepted_at)
                     .order_by("-accepted_at", "-pk").first()) or acceptance
    amended = accepted
    if concluded != acceptance:
        # What changed since the customer's acceptance before this one: the Offer, the
        # Privacy Policy, the Terms of Use (any of them makes a renewal accept by continued use).
        from .services import accepted_versions

        seen = accepted_versions([acceptance.customer_id], before=acceptance)
        amended = [a for a in accepted if seen.get((acceptance.customer_id, a.kind)) != a.document_id] or accepted
    conversion = ""
    if payment.currency != "KZT" and payment.exchange_rate is not None:
        from billing.exchange import describe_conversion

        conversion = describe_conversion(currency=payment.currency, amount_minor=payment.amount_minor,
                                         kzt_amount_minor=payment.kzt_amount_minor, rate=payment.exchange_rate,
                                         rate_date=payment.exchange_rate_date, source=payment.exchange_rate_source)
    return {
        "concluded": concluded,
        "conversion": conversion,
        "acceptance": acceptance,
        "offer": offer.document,
        "offer_sha256": offer.sha256,
        # "Public Offer, version 2026-01-01; Privacy Policy, version …" (in the copy's language)
        "amended": "; ".join(_("%(document)s, version %(label)s") % {
            "document": a.document.get_kind_display(), "label": a.document.label} for a in amended),
        "accepted_documents": accepted,
        "customer": acceptance.customer_snapshot or {},
        "provider": provider_details(),
        "price": format_money(acceptance.price_minor, acceptance.currency),
        "payment": payment,
        "term": term,
        "offer_url": settings.SITE_URL + offer.document.get_absolute_url(),
        "generated_at": timezone.now(),
    }


def render_agreement_html(acceptance: Acceptance, *, language: str) -> str:
    with translation.override(language):
        return render_to_string("documents/agreement.html", agreement_context(acceptance))


def render_agreement_pdf(acceptance: Acceptance, *, language: str) -> bytes:
    from soldee.pdf import render_pdf

    return render_pdf(render_agreement_html(acceptance, language=language))
