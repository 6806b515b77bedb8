import hashlib
import uuid

from django.conf import settings
from django.db import models
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from soldee.models import AppendOnlyError, AppendOnlyModel


def sha256_of(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


class LegalDocument(models.Model):
    """One version of a published legal text. A published version never changes:
    an amendment is a new row (offer clause 11)."""

    class Kind(models.TextChoices):
        OFFER = "offer", _("Public Offer")
        PRIVACY = "privacy", _("Privacy Policy")
        TERMS = "terms", _("Terms of Use")

    class Status(models.TextChoices):
        DRAFT = "draft", _("Draft")
        PUBLISHED = "published", _("Published")

    kind = models.CharField(_("document"), max_length=16, choices=Kind.choices)
    label = models.SlugField(
        _("version label"), max_length=32, help_text=_("For example 2025-11-01; part of the URL.")
    )
    title = models.CharField(_("title"), max_length=200)
    effective_date = models.DateField(_("effective date"))
    body = models.TextField(_("text"))
    sha256 = models.CharField(_("SHA-256 of the text"), max_length=64, editable=False)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.DRAFT)
    published_at = models.DateTimeField(null=True, blank=True, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)

    IMMUTABLE_FIELDS = ("kind", "label", "title", "effective_date", "body", "sha256")

    class Meta:
        ordering = ["kind", "-effective_date", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["kind", "label"], name="legaldocument_unique_label"),
            models.CheckConstraint(
                condition=models.Q(status="draft") | models.Q(published_at__isnull=False),
                name="legaldocument_published_has_time",
            ),
        ]
        verbose_name = _("legal document version")
        verbose_name_plural = _("legal document versions")

    def __str__(self):
        return f"{self.get_kind_display()} {self.label}"

    def save(self, *args, **kwargs):
        self.sha256 = sha256_of(self.body)
        if not self._state.adding:
            stored = type(self).objects.filter(pk=self.pk).values(*self.IMMUTABLE_FIELDS, "status").first()
            if stored and stored["status"] == self.Status.PUBLISHED:
                changed = [f for f in self.IMMUTABLE_FIELDS if stored[f] != getattr(self, f)]
                if changed or self.status != self.Status.PUBLISHED:
                    raise AppendOnlyError(f"published document {self} cannot change ({changed})")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        if self.status == self.Status.PUBLISHED:
            raise AppendOnlyError("published documents are never deleted")
        return super().delete(*args, **kwargs)

    @property
    def is_published(self) -> bool:
        return self.status == self.Status.PUBLISHED

    def get_absolute_url(self):
        return reverse("offer:version", kwargs={"kind": self.kind, "label": self.label})


class Acceptance(AppendOnlyModel):
    """Evidence that the Customer accepted the offer (clauses 1, 2.3, 5.3): written only by
    a successful payment, never edited or deleted."""

    class Kind(models.TextChoices):
        PAYMENT = "payment", _("Acceptance by payment")
        CONTINUED_USE = "continued_use", _("Acceptance of amendments by continued use")

    kind = models.CharField(max_length=16, choices=Kind.choices, default=Kind.PAYMENT)
    customer = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="acceptances"
    )
    payment = models.OneToOneField(
        "billing.Payment", on_delete=models.PROTECT, related_name="acceptance"
    )
    plan_code = models.CharField(max_length=32)
    plan_name = models.CharField(max_length=200)
    price_minor = models.BigIntegerField()
    currency = models.CharField(max_length=3)
    documents = models.ManyToManyField(
        LegalDocument, through="AcceptedDocument", related_name="acceptances"
    )
    customer_snapshot = models.JSONField(
        default=dict, help_text="The customer's profile as it was at acceptance."
    )
    payment_reference = models.CharField(max_length=128)
    accepted_at = models.DateTimeField(help_text="The moment of payment (clause 2.3).")
    ip_address = models.GenericIPAddressField(null=True, blank=True)
    user_agent = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-accepted_at"]
        verbose_name = _("acceptance")
        verbose_name_plural = _("acceptances")

    @property
    def price_display(self) -> str:
        """The price the customer agreed to pay, in the payment's currency."""
        from soldee.money import format_money

        return format_money(self.price_minor, self.currency)

    def __str__(self):
        # The plan by name and the moment as the reader's language writes it (Almaty time):
        # staff read it as the page's title ("start 2026-11-30 21:56" was the stored code).
        from django.utils import formats

        return f"{self.customer} «{self.plan_name}» {formats.date_format(timezone.localtime(self.accepted_at), 'DATETIME_FORMAT')}"

    @property
    def offer_document(self):
        return next(
            (d.document for d in self.accepted_documents.all() if d.kind == LegalDocument.Kind.OFFER),
            None,
        )


class AcceptedDocument(AppendOnlyModel):
    acceptance = models.ForeignKey(
        Acceptance, on_delete=models.PROTECT, related_name="accepted_documents"
    )
    document = models.ForeignKey(LegalDocument, on_delete=models.PROTECT, related_name="+")
    kind = models.CharField(max_length=16, choices=LegalDocument.Kind.choices)
    sha256 = models.CharField(max_length=64)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["acceptance", "kind"], name="accepteddocument_one_per_kind"
            )
        ]
        verbose_name = _("accepted document")
        verbose_name_plural = _("accepted documents")

    def __str__(self):
        return f"{self.get_kind_display()} {self.document.label}"


# --- Copies of the agreement on request (clause 5.4) ---------------------------------

def _agreement_copy_path(instance, filename):
    # Unguessable: in embedded mode MEDIA_URL is served as plain files, and downloads
    # must go through the owner/staff-only view.
    return f"documents/agreements/{uuid.uuid4().hex}.pdf"


class AgreementCopy(models.Model):
    """The ONE rendered PDF of an acceptance: rendered once, served again and again."""

    acceptance = models.OneToOneField(
        Acceptance, on_delete=models.PROTECT, related_name="agreement_copy"
    )
    file = models.FileField(upload_to=_agreement_copy_path, max_length=255)
    sha256 = models.CharField(_("SHA-256 of the PDF"), max_length=64)
    size = models.PositiveIntegerField()
    language = models.CharField(max_length=8)
    rendered_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("agreement copy (PDF)")
        verbose_name_plural = _("agreement copies (PDF)")

    def __str__(self):
        return f"{self.acceptance} ({self.sha256[:12]})"


class AgreementCopyRender(models.Model):
    """The render of an acceptance's agreement PDF that "Download the agreement (PDF)" sent
    to the worker (no paper copy asked for, so no `AgreementCopyRequest` to keep it): when
    one was last sent or tried, how many worker attempts, the last error. The download never
    renders (WeasyPrint is slow): it sends the render once (agreement_copies.send_download_render),
    the worker stores the `AgreementCopy`, and the copy sweep re-sends one left behind, up
    to RENDER_MAX_ATTEMPTS attempts; then staff are told by e-mail."""

    acceptance = models.OneToOneField(
        Acceptance, on_delete=models.PROTECT, related_name="copy_render", verbose_name=_("acceptance")
    )
    created_at = models.DateTimeField(_("first asked for"), default=timezone.now)
    render_attempted_at = models.DateTimeField(_("last render sent or attempted"), null=True, blank=True)
    render_attempts = models.PositiveIntegerField(_("render attempts"), default=0)
    render_error = models.TextField(_("last render error"), blank=True, default="")

    class Meta:
        verbose_name = _("agreement PDF render")
        verbose_name_plural = _("agreement PDF renders")

    def __str__(self):
        return f"{self.acceptance} ({self.render_attempts})"


class AgreementCopyRequest(models.Model):
    """A customer's request for a paper copy of the agreement, for staff to print and post
    (clause 5.4). The PDF alone needs no request (agreement_copies.send_download_render)."""

    class Status(models.TextChoices):
        REQUESTED = "requested", _("Copy requested")
        RENDERING = "rendering", _("Copy being prepared")
        READY = "ready", _("Copy ready")
        PRINTED = "printed", _("Paper copy printed")
        POSTED = "posted", _("Paper copy posted")
        FAILED = "failed", _("Preparation failed, retrying")

    OPEN_STATUSES = ("requested", "rendering", "ready", "printed", "failed")

    # What the customer reads after "Paper copy by post" (the account page and its poll):
    # what is happening to the paper copy. The choices above are the staff's queue states
    # (the PDF's render, "ready" to print, a failed render to retry); stored values are the same.
    CUSTOMER_LABELS = {
        "requested": pgettext_lazy("paper copy status", "Ordered"),
        "rendering": pgettext_lazy("paper copy status", "Being prepared for printing"),
        "failed": pgettext_lazy("paper copy status", "Being prepared for printing (taking longer than usual)"),
        "ready": pgettext_lazy("paper copy status", "Waiting to be printed and posted"),
        "printed": pgettext_lazy("paper copy status", "Printed, to be posted soon"),
        "posted": pgettext_lazy("paper copy status", "Posted"),
    }

    acceptance = models.ForeignKey(
        Acceptance, on_delete=models.PROTECT, related_name="copy_requests"
    )
    copy = models.ForeignKey(
        AgreementCopy, null=True, blank=True, on_delete=models.PROTECT, related_name="requests"
    )
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.REQUESTED)
    postal_address = models.TextField(
        _("postal address"), blank=True, help_text=_("As the customer's profile gave it at the request.")
    )
    recipient_name = models.CharField(_("recipient"), max_length=255, blank=True)
    tracking_number = models.CharField(_("tracking number"), max_length=64, blank=True)
    attempts = models.PositiveIntegerField(default=0)
    last_error = models.TextField(blank=True)
    requested_at = models.DateTimeField(auto_now_add=True)
    ready_at = models.DateTimeField(null=True, blank=True)
    printed_at = models.DateTimeField(null=True, blank=True)
    posted_at = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-requested_at"]
        constraints = [
            # One open request per acceptance: a repeat click returns the open one.
            models.UniqueConstraint(
                fields=["acceptance"],
                condition=models.Q(status__in=["requested", "rendering", "ready", "printed", "failed"]),
                name="agreementcopyrequest_one_open",
            ),
            models.CheckConstraint(
                condition=~models.Q(status="posted") | ~models.Q(tracking_number=""),
                name="agreementcopyrequest_posted_has_tracking",
            ),
        ]
        indexes = [models.Index(fields=["status", "requested_at"])]
        # No colon: Django puts the name into "Search %s", "Pagination %s", "View %s"
        # («Іздеу: …», «Постраничная навигация: …»), where a second colon read badly.
        verbose_name = _("paper copy request")
        verbose_name_plural = _("paper copy requests")

    def __str__(self):
        return f"#{self.pk} {self.acceptance} {self.get_status_display()}"

    @property
    def is_downloadable(self) -> bool:
        return self.copy_id is not None

    @property
    def customer_status_label(self) -> str:
        return str(self.CUSTOMER_LABELS[self.status])


class AmendmentNoticeDismissal(models.Model):
    """The customer closed the notice about an amended Public Offer (clause 11)."""

    customer = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+"
    )
    document = models.ForeignKey(LegalDocument, on_delete=models.CASCADE, related_name="+")
    dismissed_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["customer", "document"], name="amendmentnoticedismissal_unique"
            )
        ]
        verbose_name = _("dismissed notice of an amended offer")
        verbose_name_plural = _("dismissed notices of an amended offer")
