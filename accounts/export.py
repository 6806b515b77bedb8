"""The personal-data archive: every row the portal keeps about one customer, as JSON,
plus the files they own (attachments, documents).

Which rows: the user, and every row of every model with a foreign key named `customer`
or `user` to the user model (so a model added later is included without changing this
file), plus the models owned through another row (INDIRECT_OWNERS: the agreement copies
belong to the customer through their acceptance). Secrets are left out: password
hashes, gateway card tokens, MFA secrets."""

from __future__ import annotations

import json
import zipfile
from pathlib import PurePosixPath

from django.apps import apps
from django.conf import settings
from django.contrib.auth import get_user_model
from django.core import serializers
from django.core.files.storage import default_storage
from django.core.serializers.json import DjangoJSONEncoder
from django.db import models
from django.template.loader import render_to_string
from django.utils import timezone, translation

from soldee.provider import provider_details

OWNER_FIELDS = ("customer", "user")
# Models that belong to a customer through another row: label → the lookup to the user.
INDIRECT_OWNERS = {
    "offer.agreementcopy": "acceptance__customer",  # the PDF of an agreement (clause 5.4)
    "offer.agreementcopyrequest": "acceptance__customer",
    "offer.accepteddocument": "acceptance__customer",
    "subscriptions.term": "subscription__customer",  # the paid terms
    "subscriptions.renewalattempt": "subscription__customer",
}
# Whole models that are not the customer's data or hold secrets.
EXCLUDED_MODELS = {"accounts.dataexport", "mfa.authenticator", "admin.logentry", "sessions.session",
                   "account.emailconfirmation",  # a confirmation key: a secret
                   "billing.exchangerate",  # its user is the staff member who entered a rate
                   "offer.agreementcopyrender"}  # render bookkeeping of the agreement PDF (exported itself)
# Fields never exported: credentials, not personal data.
EXCLUDED_FIELDS = {
    "accounts.user": {"password", "groups", "user_permissions", "is_superuser"},
    "billing.paymentmethod": {"token"},
    "subscriptions.agentcredential": {"key_hash"},
}


def owned_models() -> list[tuple[type[models.Model], str]]:
    """(model, owner field name) for every model that belongs to a customer."""
    User = get_user_model()
    found = []
    for model in apps.get_models():
        if model._meta.label_lower in EXCLUDED_MODELS or model is User:
            continue
        if model._meta.label_lower in INDIRECT_OWNERS:
            found.append((model, INDIRECT_OWNERS[model._meta.label_lower]))
            continue
        for name in OWNER_FIELDS:
            try:
                field = model._meta.get_field(name)
            except Exception:
                continue
            if field.is_relation and field.related_model is User and (field.many_to_one or field.one_to_one):
                found.append((model, name))
                break
    return sorted(found, key=lambda pair: pair[0]._meta.label_lower)


def _rows(queryset) -> list[dict]:
    label = queryset.model._meta.label_lower
    excluded = EXCLUDED_FIELDS.get(label, set())
    rows = serializers.serialize("python", queryset)
    out = []
    for row in rows:
        fields = {k: v for k, v in row["fields"].items() if k not in excluded}
        out.append({"id": row["pk"], **fields})
    return out


def _acceptance_documents(customer) -> list[dict]:
    from offer.models import Acceptance

    result = []
    for acceptance in Acceptance.objects.filter(customer=customer).select_related("agreement_copy").prefetch_related(
            "accepted_documents__document"):
        copy = getattr(acceptance, "agreement_copy", None)
        pdf = None
        if copy is not None and copy.file and default_storage.exists(copy.file.name):
            # Where the archive holds it (the files/ loop of write_archive), and its hash.
            pdf = {"file": _archived_name(copy, copy.file), "sha256": copy.sha256, "language": copy.language}
        result.append({
            "acceptance": acceptance.pk,
            "payment_reference": acceptance.payment_reference,
            "accepted_at": acceptance.accepted_at,
            "documents": [
                {"kind": d.kind, "label": d.document.label, "title": d.document.title,
                 "effective_date": d.document.effective_date, "sha256": d.sha256,
                 "url": settings.SITE_URL + d.document.get_absolute_url()}
                for d in acceptance.accepted_documents.all()
            ],
            "agreement_pdf": pdf,
        })
    return result


def _archived_name(obj, stored) -> str:
    return f"files/{obj._meta.label_lower}/{obj.pk}/{PurePosixPath(stored.name).name}"


def _dump(value) -> bytes:
    return json.dumps(value, cls=DjangoJSONEncoder, ensure_ascii=False, indent=2).encode("utf-8")


def write_archive(customer, fileobj, *, exported_by=None, missing=()) -> None:
    """Write the ZIP for `customer` into the binary file object. `exported_by`: a staff
    member's evidence bundle (clause 10): the texts of the accepted legal documents are
    added, and the README is for the court or counsel, in the staff member's language;
    `missing`: the PDFs it lacks (accounts/evidence.py), listed in that README."""
    User = get_user_model()
    with zipfile.ZipFile(fileobj, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        contents = []
        archive.writestr("data/account.json", _dump(_rows(User.objects.filter(pk=customer.pk))))
        contents.append("data/account.json")
        for model, owner in owned_models():
            queryset = model._default_manager.filter(**{owner: customer}).order_by("pk")
            rows = _rows(queryset)
            if not rows:
                continue
            name = f"data/{model._meta.label_lower}.json"
            archive.writestr(name, _dump(rows))
            contents.append(name)
            file_fields = [f for f in model._meta.concrete_fields if isinstance(f, models.FileField)]
            for obj in queryset if file_fields else ():
                for field in file_fields:
                    stored = getattr(obj, field.name)
                    if not stored or not default_storage.exists(stored.name):
                        continue
                    target = _archived_name(obj, stored)
                    with default_storage.open(stored.name, "rb") as fh:
                        archive.writestr(target, fh.read())
                    contents.append(target)
        archive.writestr("data/accepted_documents.json", _dump(_acceptance_documents(customer)))
        contents.append("data/accepted_documents.json")
        if exported_by is not None:
            from offer.models import LegalDocument

            for document in LegalDocument.objects.filter(acceptances__customer=customer).distinct().order_by("pk"):
                name = f"legal_documents/{document.kind}-{document.label}.txt"
                archive.writestr(name, document.body.encode("utf-8"))
                contents.append(name)
        template = "accounts/evidence_readme.txt" if exported_by is not None else "accounts/export_readme.txt"
        language = translation.get_language() if exported_by is not None else (
            getattr(customer, "language", None) or "ru")
        with translation.override(language):
            readme = render_to_string(template, {
                "customer": customer, "created_at": timezone.localtime(), "contents": contents,
                "provider": provider_details(), "exported_by": exported_by, "missing": missing,
            })
        archive.writestr("README.txt", readme.encode("utf-8"))
