"""Refunds under clause 7 of the offer: critical-error reports, refund requests, the
refund itself (executed through the gateway exactly once) and the staff calendar of
business-day exceptions. Rows are changed only by refunds.services."""

import uuid
from pathlib import Path

from django.conf import settings
from django.db import models
from django.db.models.functions import Upper
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from soldee.money import format_money


class CalendarException(models.Model):
    """A day the `holidays` package gets wrong or does not know yet (it knows transfers
    only up to 2025): an extra day off, or a weekend day made a working day."""

    class Kind(models.TextChoices):
        DAY_OFF = "day_off", _("Day off")
        WORKING_DAY = "working_day", _("Working day (transferred)")

    date = models.DateField(_("date"), unique=True)
    kind = models.CharField(_("kind"), max_length=16, choices=Kind.choices)
    note = models.CharField(_("note"), max_length=255, blank=True,
                            help_text=_("The decree or reason, e.g. 'Government decree of 2025-12-20'."))
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-date"]
        verbose_name = _("business-day exception")
        verbose_name_plural = _("business-day calendar exceptions")

    def __str__(self):
        return f"{self.date:%Y-%m-%d} {self.get_kind_display()}"


def _attachment_path(instance, filename: str) -> str:
    # A random folder: the file is never guessable; it is served only by the owner's view.
    suffix = Path(filename).suffix.lower()[:8]
    return f"error-reports/{uuid.uuid4().hex}/attachment{suffix}"


class ErrorReport(models.Model):
    """A customer's report of a critical error (clause 7 b)."""

    class Severity(models.TextChoices):
        BLOCKER = "blocker", _("The AI agent does not work at all")
        MAJOR = "major", _("A key function does not work")
        MINOR = "minor", _("Something works incorrectly, but I can work")

    class Status(models.TextChoices):
        OPEN = "open", _("Received, being reviewed")
        CONFIRMED = "confirmed", _("Confirmed as critical")
        NOT_CRITICAL = "not_critical", _("Not a critical error")
        RESOLVED = "resolved", _("Resolved")

    customer = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT,
                                 related_name="error_reports")
    what_fails = models.TextField(_("what fails"))
    since = models.DateTimeField(_("since when"))
    severity = models.CharField(_("severity"), max_length=16, choices=Severity.choices)
    attachment = models.FileField(_("attachment"), upload_to=_attachment_path, blank=True, max_length=200)
    attachment_name = models.CharField(max_length=200, blank=True)
    reported_at = models.DateTimeField(_("reported at"), default=timezone.now, db_index=True)
    deadline_at = models.DateTimeField(
        _("resolution deadline"),
        help_text=_("End of the 5th Kazakhstan business day after the report's Almaty date."),
    )
    status = models.CharField(_("status"), max_length=16, choices=Status.choices, default=Status.OPEN)
    confirmed_at = models.DateTimeField(_("confirmed critical at"), null=True, blank=True)
    triage_reason = models.TextField(_("triage reason"), blank=True)
    triaged_at = models.DateTimeField(null=True, blank=True)
    triaged_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True,
                                   on_delete=models.PROTECT, related_name="+")
    resolved_at = models.DateTimeField(_("resolved at"), null=True, blank=True)
    deadline_missed_at = models.DateTimeField(
        _("deadline missed, noticed at"), null=True, blank=True,
        help_text=_("When the customer was told that the deadline of their confirmed critical error passed "
                    "without a resolution (once)."))
    resolution_note = models.TextField(_("resolution note"), blank=True)
    resolved_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True,
                                    on_delete=models.PROTECT, related_name="+")

    class Meta:
        ordering = ["-reported_at"]
        constraints = [
            models.CheckConstraint(condition=models.Q(deadline_at__gt=models.F("reported_at")),
                                   name="errorreport_deadline_after_report"),
            models.CheckConstraint(
                condition=~models.Q(status="resolved") | models.Q(resolved_at__isnull=False),
                name="errorreport_resolved_has_time",
            ),
            models.CheckConstraint(
                condition=~models.Q(status="confirmed") | models.Q(confirmed_at__isnull=False),
                name="errorreport_confirmed_has_time",
            ),
        ]
        verbose_name = _("critical-error report")
        verbose_name_plural = _("critical-error reports")

    def __str__(self):
        return f"#{self.pk} {self.customer} {timezone.localtime(self.reported_at):%Y-%m-%d}"  # Almaty date

    @property
    def is_critical(self) -> bool:
        return self.confirmed_at is not None

    @property
    def missed_deadline(self) -> bool:
        """Confirmed critical and not resolved by the deadline (clause 7 b)."""
        if self.confirmed_at is None:
            return False
        if self.resolved_at is not None:
            return self.resolved_at > self.deadline_at
        return timezone.now() > self.deadline_at


class RefundRequest(models.Model):
    """A customer's request to refund one payment on one of the offer's grounds."""

    class Ground(models.TextChoices):
        NO_ACCESS = "no_access", _("Access to the service was not granted")
        CRITICAL_ERROR = "critical_error", _(
            "Critical errors were identified that were not resolved within 5 business days")
        LATE = "late", _("The service was not provided on time")

    class Status(models.TextChoices):
        OPEN = "open", _("Under review")
        APPROVED = "approved", _("Approved")
        REJECTED = "rejected", _("Rejected")
        WITHDRAWN = "withdrawn", _("Withdrawn by the customer")

    customer = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT,
                                 related_name="refund_requests", verbose_name=_("customer"))
    payment = models.ForeignKey("billing.Payment", on_delete=models.PROTECT, related_name="refund_requests",
                                verbose_name=_("payment"))
    ground = models.CharField(_("ground"), max_length=16, choices=Ground.choices)
    explanation = models.TextField(_("explanation"))
    status = models.CharField(_("status"), max_length=16, choices=Status.choices, default=Status.OPEN)
    eligible = models.BooleanField(_("eligible by records"), null=True)
    evaluation = models.JSONField(_("evaluation"), default=dict, blank=True,
                                  help_text="The portal's recommendation: {eligible, reasons, evidence}.")
    evaluated_at = models.DateTimeField(_("evaluated at"), null=True, blank=True)
    created_at = models.DateTimeField(_("requested at"), auto_now_add=True)
    decided_at = models.DateTimeField(_("decided at"), null=True, blank=True)
    decided_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True,
                                   on_delete=models.PROTECT, related_name="+", verbose_name=_("decided by"))
    decision_reason = models.TextField(_("decision reason"), blank=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(fields=["payment"], condition=models.Q(status="open"),
                                    name="refundrequest_one_open_per_payment"),
            models.CheckConstraint(
                condition=models.Q(status="open") | models.Q(decided_at__isnull=False),
                name="refundrequest_decided_has_time",
            ),
        ]
        indexes = [models.Index(fields=["status", "created_at"])]
        verbose_name = _("refund request")
        verbose_name_plural = _("refund requests")

    def __str__(self):
        return f"#{self.pk} {self.customer} {self.get_ground_display()}"


# The prefix of a refund's reference when accounting paid it back by bank transfer.
BANK_TRANSFER_REF = "bank-transfer:"


class Refund(models.Model):
    """Money going back: the intent (pending, with an idempotency key) is committed
    before the gateway call; the result is recorded after it."""

    class Status(models.TextChoices):
        PENDING = "pending", _("Approved, waiting to be sent")
        EXECUTING = "executing", _("Being sent to the payment gateway")
        SUCCEEDED = "succeeded", _("Refunded")
        FAILED = "failed", _("Refused by the payment gateway")
        # A payment made by bank transfer (an invoice) has no gateway to send money back
        # through: accounting pays it back to the account it came from and staff record it.
        AWAITING_TRANSFER = "to_transfer", _("Approved, to be paid back by bank transfer")

    # One refund per request: a second approval hits this constraint.
    request = models.OneToOneField(RefundRequest, on_delete=models.PROTECT, related_name="refund")
    payment = models.ForeignKey("billing.Payment", on_delete=models.PROTECT, related_name="refunds")
    customer = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="refunds")
    amount_minor = models.BigIntegerField()
    currency = models.CharField(max_length=3)
    is_full = models.BooleanField(help_text="Returns everything still refundable; ends the subscription.")
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PENDING)
    idempotency_key = models.CharField(max_length=128, unique=True)
    gateway_ref = models.CharField(max_length=128, blank=True)
    attempts = models.PositiveIntegerField(default=0)
    last_error = models.TextField(blank=True)
    answer_lost = models.BooleanField(
        _("gateway's answer lost"), default=False,
        help_text=_("A try reached the gateway (perhaps) and its answer was lost, and no later answer settled "
                    "it: the money may have gone back. Check in the gateway's back office before paying it "
                    "another way."))
    approved_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True,
                                    on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    # When the money went back: the gateway's answer, or the date on the bank statement staff
    # give for a transfer (which may be days before they record it).
    succeeded_at = models.DateTimeField(null=True, blank=True)
    # When the portal recorded it as paid back: the accounting export reports a refund in the
    # period it was recorded, so a transfer dated into a month already exported does not change
    # that month (docs/operations.md, "Payments export").
    recorded_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.CheckConstraint(condition=models.Q(amount_minor__gt=0), name="refund_amount_positive"),
            models.CheckConstraint(
                condition=~models.Q(status="succeeded") | models.Q(succeeded_at__isnull=False),
                name="refund_succeeded_has_time",
            ),
            # One bank transfer pays back one refund, whatever the case staff typed its reference
            # in; refund_record_bank_transfer checks first, this holds under concurrent recording.
            models.UniqueConstraint(Upper("gateway_ref"), condition=models.Q(gateway_ref__startswith=BANK_TRANSFER_REF),
                                    name="refund_bank_reference_once"),
        ]
        indexes = [models.Index(fields=["status", "updated_at"])]
        verbose_name = _("refund")
        verbose_name_plural = _("refunds")

    def __str__(self):
        return f"{self.number_display} {self.amount_display} {self.get_status_display()}"

    @property
    def number_display(self) -> str:
        """The refund's number with its request's (the number the customer's e-mails give), so
        staff and customer can match them: "#1 (request #2)"."""
        from django.utils.translation import gettext

        return gettext("#%(id)s (request #%(request)s)") % {"id": self.pk, "request": self.request_id}

    @property
    def amount_display(self) -> str:
        return format_money(self.amount_minor, self.currency)

    @property
    def paid_by_transfer(self) -> bool:
        """Paid back (or to be) by a bank transfer that accounting records."""
        return self.status == self.Status.AWAITING_TRANSFER or self.gateway_ref.startswith(BANK_TRANSFER_REF)



# The admin lists' header of the formatted amount ("amount", not "amount display").
for _model in (Refund,):
    _model.amount_display.fget.short_description = _("amount")
