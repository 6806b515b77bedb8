from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import FileResponse, Http404, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import formats, timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from . import services
from .models import LegalDocument


def _kind(kind: str) -> str:
    if kind not in LegalDocument.Kind.values:
        raise Http404
    return kind


def current(request, kind):
    document = services.document_in_force(_kind(kind))
    if document is None:
        raise Http404
    return render(request, "offer/document.html", {"document": document, "is_current": True})


def version(request, kind, label):
    document = get_object_or_404(services.published(_kind(kind)), label=label)
    in_force = services.document_in_force(kind)
    return render(request, "offer/document.html", {
        "document": document, "is_current": in_force is not None and in_force.pk == document.pk,
        "in_force": in_force,
    })


def versions(request, kind):
    docs = services.published(_kind(kind)).order_by("-effective_date", "-id")
    in_force = services.document_in_force(kind)
    return render(request, "offer/versions.html", {
        "documents": docs, "kind_label": LegalDocument.Kind(kind).label, "in_force": in_force,
    })


def contacts(request):
    return render(request, "offer/contacts.html")


# --- Changes between two versions (clause 11) ---------------------------------------------

def diff(request, kind, a, b):
    from .diff import text_diff

    old = get_object_or_404(services.published(_kind(kind)), label=a)
    new = get_object_or_404(services.published(kind), label=b)
    return render(request, "offer/diff.html", {
        "old": old, "new": new, "diff": text_diff(old.body, new.body),
        "kind_label": LegalDocument.Kind(kind).label,
    })


# --- Copies of the agreement (clause 5.4) ---------------------------------------------------

def _acceptance_for(request, acceptance_id, *, staff_ok: bool):
    """The acceptance if the user owns it (or is staff with a second factor and the view
    permission, where allowed: logged); 404 otherwise."""
    from soldee.staff_access import staff_may_view

    from .models import Acceptance

    acceptance = Acceptance.objects.filter(pk=acceptance_id).first()
    if acceptance is None or not (acceptance.customer_id == request.user.pk or (staff_ok and staff_may_view(
            # the paper-copy queue's staff print it too (found by the review)
            request, acceptance, perm=("offer.view_acceptance", "offer.view_agreementcopyrequest"),
            customer=acceptance.customer_id))):
        raise Http404
    return acceptance


def _copy_status(acceptance) -> dict:
    from django.urls import reverse

    from .models import AgreementCopy, AgreementCopyRequest

    req = AgreementCopyRequest.objects.filter(acceptance=acceptance).order_by("-requested_at", "-id").first()
    has_pdf = AgreementCopy.objects.filter(acceptance=acceptance).exists()
    status = req.status if req else None
    return {
        "status": status,
        "label": req.customer_status_label if req else "",
        "final": status not in ("requested", "rendering", "failed"),
        "tracking_number": req.tracking_number if req else "",
        "download_url": reverse("offer:copy_download", args=[acceptance.pk]) if has_pdf else None,
    }


@login_required
@require_POST
def copy_request(request, acceptance_id):
    from . import agreement_copies

    acceptance = _acceptance_for(request, acceptance_id, staff_ok=False)
    _req, created = agreement_copies.request_copy(acceptance_id=acceptance.pk, by=request.user)
    if "application/json" in request.headers.get("Accept", ""):
        return JsonResponse(_copy_status(acceptance), status=201 if created else 200)
    if created:
        messages.success(request, _("Your paper copy of the agreement is ordered. We will post it to the postal "
                                    "address in your customer details and e-mail you when it is on its way."))
    return redirect(reverse("subscriptions:account") + "#acceptances")


@login_required
@require_GET
def copy_status(request, acceptance_id):
    acceptance = _acceptance_for(request, acceptance_id, staff_ok=True)
    response = JsonResponse(_copy_status(acceptance))
    response["Cache-Control"] = "no-store"
    return response


@login_required
@require_GET
def copy_download(request, acceptance_id):
    from .models import AgreementCopy

    acceptance = _acceptance_for(request, acceptance_id, staff_ok=True)
    copy = AgreementCopy.objects.filter(acceptance=acceptance).first()
    if copy is None:
        # "Download the agreement (PDF)" before its PDF exists: the worker renders it (never
        # this request: WeasyPrint is slow); its render is sent once, and "Try again" only
        # shows this page again until the PDF is stored. No paper-copy request is opened.
        from billing.views import pdf_being_prepared

        from . import agreement_copies

        agreement_copies.send_download_render(acceptance_id=acceptance.pk)
        return pdf_being_prepared(request, title=_("Copy of the agreement of %(date)s") % {
            "date": formats.date_format(timezone.localtime(acceptance.accepted_at), "DATETIME_FORMAT")})
    response = FileResponse(copy.file.open("rb"), as_attachment=True, content_type="application/pdf",
                            filename=f"soldee-agreement-{acceptance.pk}.pdf")
    response["Cache-Control"] = "private, no-store"
    return response


@login_required
@require_POST
def notice_dismiss(request, document_id):
    from . import amendments

    try:
        amendments.amendment_notice_dismiss(customer=request.user, document_id=document_id)
    except LegalDocument.DoesNotExist:
        raise Http404 from None
    return redirect("subscriptions:account")
