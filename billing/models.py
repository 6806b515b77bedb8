import uuid
from datetime import timedelta

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from soldee.bulk import CopyQuerySet
from soldee.money import format_money

# A payment recorded later than its paid date by more than this gets `recorded_at` (see
# Payment): a gateway's answer settled within it — a checkout's notification, a renewal
# batch charged and settled in one go — is recorded "when paid". Export a period no sooner
# than this after it ends.
RECORDED_LATE_AFTER = timedelta(minutes=10)


class Payment(models.Model):
    """One attempt to take money. Money fields are written by billing.services only."""

    class Status(models.TextChoices):
        PENDING = "pending", _("Awaiting payment")
        PROCESSING = "processing", _("Charging")  # a gateway call is in flight
        SUCCEEDED = "succeeded", _("Paid")
        FAILED = "failed", _("Declined")
        EXPIRED = "expired", _("Abandoned")

    class Method(models.TextChoices):
        CARD = "card", _("Card")
        SAVED_CARD = "saved_card", _("Saved card")
        BANK_TRANSFER = "bank_transfer", _("Bank transfer")

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    customer = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="payments"
    )
    purpose = models.CharField(max_length=48, help_text="Who handles the settled payment.")
    purpose_ref = models.CharField(max_length=64, blank=True)
    description = models.CharField(max_length=255)
    amount_minor = models.BigIntegerField()
    currency = models.CharField(max_length=3, default="KZT")
    # What the amount is worth in tenge, and how it was converted (clause 6.2).
    kzt_amount_minor = models.BigIntegerField()
    exchange_rate = models.DecimalField(max_digits=18, decimal_places=6, null=True, blank=True)
    exchange_rate_date = models.DateField(null=True, blank=True)
    exchange_rate_source = models.CharField(max_length=64, blank=True)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PENDING)
    method = models.CharField(max_length=16, choices=Method.choices, default=Method.CARD)
    idempotency_key = models.CharField(max_length=128)  # unique: Meta (no unused LIKE index)
    gateway = models.CharField(max_length=32)
    gateway_ref = models.CharField(max_length=128, null=True, blank=True)
    payment_method = models.ForeignKey(
        "PaymentMethod", null=True, blank=True, on_delete=models.PROTECT, related_name="payments"
    )
    card_mask = models.CharField(max_length=32, blank=True)
    pinned_documents = models.JSONField(
        default=list, blank=True,
        help_text="The legal document versions shown at checkout: [{id, kind, label, sha256}].",
    )
    client_ip = models.GenericIPAddressField(null=True, blank=True)
    user_agent = models.TextField(blank=True)
    # When the money was taken: the gateway's time, or the date on the bank statement staff
    # give for an invoice paid by transfer (which may be days before they record it).
    paid_at = models.DateTimeField(null=True, blank=True)
    # When the portal recorded it as paid, ONLY when that was later than `paid_at` by more
    # than RECORDED_LATE_AFTER (an invoice marked paid from the statement, a gateway answer
    # reconciled late); NULL otherwise — every renewal — so the hot path writes nothing more.
    # The accounting export reports a payment in the period it was recorded,
    # COALESCE(recorded_at, paid_at), so a payment dated into a month already exported does
    # not change that month (docs/operations.md, "Payments export").
    recorded_at = models.DateTimeField(null=True, blank=True)
    failed_at = models.DateTimeField(null=True, blank=True)
    failure_code = models.CharField(max_length=64, blank=True)
    failure_message = models.CharField(max_length=255, blank=True)
    refunded_minor = models.BigIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = CopyQuerySet.as_manager()  # batch inserts by COPY (soldee.bulk)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.CheckConstraint(condition=models.Q(amount_minor__gt=0), name="payment_amount_positive"),
            models.CheckConstraint(
                condition=models.Q(refunded_minor__gte=0)
                & models.Q(refunded_minor__lte=models.F("amount_minor")),
                name="payment_refunded_within_amount",
            ),
            models.CheckConstraint(
                condition=~models.Q(status="succeeded") | models.Q(paid_at__isnull=False),
                name="payment_succeeded_has_paid_at",
            ),
            models.UniqueConstraint(
                fields=["gateway", "gateway_ref"],
                condition=models.Q(gateway_ref__isnull=False),
                name="payment_unique_gateway_ref",
            ),
            models.UniqueConstraint(fields=["idempotency_key"], name="payment_unique_idempotency_key"),
        ]
        indexes = [models.Index(fields=["status", "created_at"])]
        verbose_name = _("payment")
        verbose_name_plural = _("payments")

    def __str__(self):
        return f"{self.public_id} {self.amount_display} {self.get_status_display()}"

    @property
    def amount_display(self) -> str:
        return format_money(self.amount_minor, self.currency)

    @property
    def refunded_display(self) -> str:
        return format_money(self.refunded_minor, self.currency)

    @property
    def failure_display(self) -> str:
        """The decline reason in the current language: gateways' known reasons are stored
        in English (marked with gettext_noop where they are defined); a reason the gateway
        words itself is shown as it came."""
        return gettext(self.failure_message) if self.failure_message else ""

    @property
    def refused_by_our_check(self) -> bool:
        """Declined by the portal's own check before any card was charged (a superseded page
        or documents), not by the bank: the result page says so."""
        from .gateways.cloudpayments import CHECK_NOT_CONFIRMED
        from .gateways.sandbox import MERCHANT_REFUSALS

        return self.status == self.Status.FAILED and (
            self.failure_message in MERCHANT_REFUSALS.values() or self.failure_message == CHECK_NOT_CONFIRMED)

    @property
    def is_paid(self) -> bool:
        return self.status == self.Status.SUCCEEDED

    @property
    def refundable_minor(self) -> int:
        return self.amount_minor - self.refunded_minor if self.is_paid else 0


class PaymentMethod(models.Model):
    """A reusable card token from the gateway (never card data) for renewals."""

    customer = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="payment_methods"
    )
    gateway = models.CharField(max_length=32)
    token = models.CharField(max_length=255)
    card_mask = models.CharField(max_length=32, blank=True)
    is_active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["gateway", "token"], name="paymentmethod_unique_token"),
        ]
        verbose_name = _("saved card")
        verbose_name_plural = _("saved cards")

    def __str__(self):
        return self.card_mask or self.token[:8]


class IncomingNotification(models.Model):
    """The webhook inbox: every verified notification, once: its fields without the card
    token, card details or the payer's personal data, and the SHA-256 of the body as received."""

    class Outcome(models.TextChoices):
        RECEIVED = "received", _("Received")
        PROCESSED = "processed", _("Processed")
        IGNORED = "ignored", _("Ignored")
        FAILED = "failed", _("Failed")

    gateway = models.CharField(max_length=32)
    event_id = models.CharField(max_length=128)
    event_type = models.CharField(max_length=64)
    body = models.TextField(help_text="The notification's fields as JSON, card token and personal data removed.")
    body_sha256 = models.CharField(max_length=64, blank=True, help_text="SHA-256 of the body as received.")
    headers = models.JSONField(default=dict)
    received_at = models.DateTimeField(auto_now_add=True)
    processed_at = models.DateTimeField(null=True, blank=True)
    outcome = models.CharField(max_length=16, choices=Outcome.choices, default=Outcome.RECEIVED)
    error = models.TextField(blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["gateway", "event_id"], name="notification_unique_event"),
        ]
        ordering = ["-received_at"]
        verbose_name = _("incoming notification")
        verbose_name_plural = _("webhook inbox")

    def __str__(self):
        return f"{self.gateway}:{self.event_id} {self.event_type}"


class SandboxTransaction(models.Model):
    """The sandbox gateway's OWN ledger (it plays a remote gateway; the portal reads it
    only through the gateway adapter, as it would a real gateway's API)."""

    class Kind(models.TextChoices):
        HOSTED = "hosted", "Hosted payment"
        TOKEN_CHARGE = "token_charge", "Token charge"
        REFUND = "refund", "Refund"

    class Status(models.TextChoices):
        AWAITING_CARD = "awaiting_card", "Awaiting card"
        PROCESSING = "processing", "Processing"
        APPROVED = "approved", "Approved"
        DECLINED = "declined", "Declined"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    kind = models.CharField(max_length=16, choices=Kind.choices)
    invoice_id = models.CharField(max_length=64)
    idempotency_key = models.CharField(max_length=160)
    amount_minor = models.BigIntegerField()
    currency = models.CharField(max_length=3)
    description = models.CharField(max_length=255, blank=True)
    return_url = models.URLField(max_length=500, blank=True)
    card_last4 = models.CharField(max_length=4, blank=True)
    token = models.CharField(max_length=64, blank=True)
    status = models.CharField(max_length=16, choices=Status.choices)
    reason = models.CharField(max_length=255, blank=True)
    # The payer's language, passed when the hosted payment is created (as CloudPayments gets
    # CultureName): the page is shown in it. Empty: the language the browser asks for.
    language = models.CharField(max_length=8, blank=True, default="")
    parent = models.ForeignKey("self", null=True, blank=True, on_delete=models.PROTECT)
    created_at = models.DateTimeField(auto_now_add=True)
    decided_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        # Declared here rather than with unique=/db_index=, which add LIKE indexes nobody uses.
        constraints = [models.UniqueConstraint(fields=["idempotency_key"], name="sandboxtxn_unique_idempotency_key")]
        indexes = [models.Index(fields=["invoice_id"], name="sandboxtxn_invoice"),
                   models.Index(fields=["token"], name="sandboxtxn_token")]
        verbose_name = _("sandbox gateway transaction")
        verbose_name_plural = _("sandbox gateway transactions")


class ExchangeRate(models.Model):
    """An official National Bank of Kazakhstan rate: tenge per `quant` units (clause 6.2).
    `demo`: a made-up rate `make run` (seed_demo) stores so a demo works offline; it is
    no National Bank rate and says so wherever a customer reads its source."""

    class Source(models.TextChoices):
        NBK = "nbk", _("National Bank of Kazakhstan feed")
        MANUAL = "manual", _("National Bank of Kazakhstan rate, entered by staff")
        DEMO = "demo", _("demo rate, not from the National Bank of Kazakhstan")

    currency = models.CharField(max_length=3)
    rate_date = models.DateField(help_text="The date the National Bank set the rate for.")
    kzt_per_unit = models.DecimalField(max_digits=18, decimal_places=6,
                                       help_text="Tenge for ONE unit of the currency.")
    quant = models.PositiveIntegerField(default=1, help_text="As published: tenge per `quant` units.")
    source = models.CharField(max_length=16, choices=Source.choices, default=Source.NBK)
    reason = models.CharField(max_length=255, blank=True, help_text="Why staff entered it by hand.")
    entered_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True,
                                   on_delete=models.PROTECT, related_name="+")
    imported_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-rate_date", "currency"]
        constraints = [
            models.UniqueConstraint(fields=["currency", "rate_date"], name="exchangerate_unique_day"),
            models.CheckConstraint(condition=models.Q(kzt_per_unit__gt=0), name="exchangerate_positive"),
        ]
        verbose_name = _("exchange rate")
        verbose_name_plural = _("exchange rates")

    def __str__(self):
        return f"{self.rate_date} {self.currency} = {self.kzt_per_unit} KZT"


# --- Receipts, refund notes, invoices (gapless numbers per type and year) ------------

class DocumentSequence(models.Model):
    """The last number given to a document type in a year. Locked (select_for_update)
    by the transaction that creates the document, so numbers have no gaps: a rolled-back
    transaction gives its number back."""

    doc_type = models.CharField(max_length=16)
    year = models.PositiveIntegerField()
    last_number = models.PositiveIntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["doc_type", "year"], name="documentsequence_unique_year"),
        ]
        verbose_name = _("document number sequence")
        verbose_name_plural = _("document number sequences")

    def __str__(self):
        return f"{self.doc_type} {self.year}: {self.last_number}"


def _payment_document_path(instance, filename):
    # Unguessable: downloads go through the owner/staff-only view.
    return f"documents/{instance.doc_type}/{instance.year}/{uuid.uuid4().hex}.pdf"


class PaymentDocument(models.Model):
    """A numbered accounting document: a receipt for a successful payment, a refund note
    for money returned, an invoice (счёт на оплату) for a legal entity to pay by bank
    transfer. The row and its number are written in one transaction; the PDF later."""

    class DocType(models.TextChoices):
        RECEIPT = "receipt", _("Receipt")
        REFUND_NOTE = "refund_note", _("Refund note")
        INVOICE = "invoice", _("Invoice for payment")

    PREFIXES = {"receipt": "R", "refund_note": "RN", "invoice": "INV"}

    doc_type = models.CharField(max_length=16, choices=DocType.choices)
    number = models.CharField(max_length=32)  # unique: Meta (no unused LIKE index)
    year = models.PositiveIntegerField()
    seq = models.PositiveIntegerField()
    customer = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="payment_documents"
    )
    payment = models.ForeignKey(
        Payment, null=True, blank=True, on_delete=models.PROTECT, related_name="documents",
        help_text="For an invoice: the bank-transfer payment, once it is paid.",
    )
    amount_minor = models.BigIntegerField()
    currency = models.CharField(max_length=3, default="KZT")
    source_ref = models.CharField(
        max_length=128, blank=True, help_text="What the document is for, e.g. the refund's key."
    )
    data = models.JSONField(default=dict, blank=True, help_text="Snapshot printed on the document.")
    valid_until = models.DateField(null=True, blank=True)
    paid_at = models.DateTimeField(null=True, blank=True)
    language = models.CharField(max_length=8, default="ru")
    file = models.FileField(upload_to=_payment_document_path, max_length=255, blank=True)
    sha256 = models.CharField(max_length=64, blank=True)
    rendered_at = models.DateTimeField(null=True, blank=True)
    # Render attempts by the worker, so the sweep that re-sends a lost or failed render
    # (billing.document_tasks.document_render_sweep) stops after RENDER_MAX_ATTEMPTS and
    # leaves the document to staff (admin: filter "PDF", action "Render the PDF again").
    render_attempts = models.PositiveIntegerField(_("render attempts"), default=0)
    render_attempted_at = models.DateTimeField(_("last render attempt"), null=True, blank=True)
    render_error = models.TextField(_("last render error"), blank=True, default="")
    # The moment its number was taken, from the clock reading that chose the number's year: a
    # document numbered R-2026-… is never dated 2027 after a wait for the numbering lock.
    created_at = models.DateTimeField(default=timezone.now)

    objects = CopyQuerySet.as_manager()  # batch inserts by COPY (soldee.bulk)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["number"], name="paymentdocument_unique_number"),
            models.UniqueConstraint(fields=["doc_type", "year", "seq"], name="paymentdocument_unique_seq"),
            models.UniqueConstraint(
                fields=["payment", "doc_type"], condition=models.Q(doc_type__in=["receipt", "invoice"]),
                name="paymentdocument_one_receipt_per_payment",
            ),
            models.UniqueConstraint(
                fields=["doc_type", "source_ref"], condition=~models.Q(source_ref=""),
                name="paymentdocument_unique_source",
            ),
            models.CheckConstraint(condition=models.Q(amount_minor__gt=0), name="paymentdocument_amount_positive"),
        ]
        indexes = [
            # The render sweep's few documents still without their PDF (all others have one).
            models.Index(fields=["created_at"], condition=models.Q(file=""), name="paymentdocument_no_pdf"),
        ]
        verbose_name = _("payment document")
        verbose_name_plural = _("receipts, refund notes and invoices")

    def __str__(self):
        return f"{self.get_doc_type_display()} {self.number}"

    @property
    def amount_display(self) -> str:
        return format_money(self.amount_minor, self.currency)

    @property
    def is_paid(self) -> bool:
        return self.paid_at is not None


# The admin lists' header of the formatted amount ("amount", not "amount display").
for _model in (Payment, PaymentDocument):
    _model.amount_display.fget.short_description = _("amount")
