from django.http import Http404
from django.shortcuts import get_object_or_404, render

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
