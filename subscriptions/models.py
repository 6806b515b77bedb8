import hashlib
import secrets
from datetime import timedelta

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from soldee.bulk import CopyQuerySet
from soldee.money import format_money

LIVE_STATUSES = ("active", "past_due")
# The failure code of an automatic renewal of a customer with no saved card (one paying by
# invoice): nothing was asked of any card, so the account's payment list leaves it out.
NO_SAVED_CARD = "no_saved_card"
# The failure code of a claimed renewal whose subscription had renewal turned off (or ended)
# by the time it was to be charged: the card is not charged (clause 6.4: "unless cancelled").
RENEWAL_OFF = "renewal_off"
# The failure code of a renewal charge whose term was paid another way before it reached the
# gateway (the customer's own payment with another card, an invoice): not charged again.
TERM_PAID = "term_already_paid"
NOT_CHARGED = (NO_SAVED_CARD, RENEWAL_OFF, TERM_PAID)  # renewal "payments" that asked no card


def key_hash(raw: str) -> str:
    """What is stored of an API key (the platform's, a customer's): its SHA-256, never the key."""
    return hashlib.sha256(raw.encode()).hexdigest()


class Subscription(models.Model):
    class Status(models.TextChoices):
        ACTIVE = "active", _("Active")
        PAST_DUE = "past_due", _("Past due")
        ENDED = "ended", _("Ended")

    class EndReason(models.TextChoices):
        CANCELLED = "cancelled", _("Renewal was turned off")
        LAPSED = "lapsed", _("Renewal payment failed")
        REFUNDED = "refunded", _("Refunded")

    customer = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="subscriptions"
    )
    plan = models.ForeignKey("plans.Plan", on_delete=models.PROTECT, related_name="subscriptions")
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.ACTIVE)
    auto_renew = models.BooleanField(_("automatic renewal"), default=True)
    current_period_start = models.DateTimeField()
    current_period_end = models.DateTimeField(db_index=True)
    ended_at = models.DateTimeField(null=True, blank=True)
    end_reason = models.CharField(max_length=16, choices=EndReason.choices, blank=True)
    # Renewal schedule (clause 6.4): when the sweeper may next charge the saved card;
    # NULL while an attempt is in flight or when nothing is due.
    next_charge_at = models.DateTimeField(null=True, blank=True, db_index=True)
    failed_attempts = models.PositiveSmallIntegerField(default=0)
    first_failed_at = models.DateTimeField(null=True, blank=True)
    reminder_sent_for = models.DateTimeField(
        null=True, blank=True, help_text="The period end a renewal reminder was sent for."
    )
    # The plan price (KZT minor units) that reminder stated: the next term is never charged
    # more than the customer was told (a price raised after it applies from the term after).
    reminded_price_minor = models.BigIntegerField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["customer"],
                condition=models.Q(status__in=LIVE_STATUSES),
                name="subscription_one_live_per_customer",
            ),
            models.CheckConstraint(
                condition=models.Q(current_period_end__gt=models.F("current_period_start")),
                name="subscription_period_positive",
            ),
        ]
        verbose_name = _("subscription")
        verbose_name_plural = _("subscriptions")

    def __str__(self):
        return f"{self.customer} · {self.plan} · {self.get_status_display()}"

    @property
    def is_live(self) -> bool:
        return self.status in LIVE_STATUSES

    @property
    def renewal_price_minor(self) -> int:
        """The KZT price of the next term: the plan's current price (clause 6.1), but not
        more than the renewal reminder sent for this term stated."""
        price = self.plan.price_minor
        if self.reminded_price_minor is not None and self.reminder_sent_for == self.current_period_end:
            return min(price, self.reminded_price_minor)
        return price

    @property
    def renewal_price_display(self) -> str:
        return format_money(self.renewal_price_minor, self.plan.currency)

    @property
    def lapses_at(self):
        """Past due: when the last scheduled retry is made; if the next term is still not
        paid then, the subscription lapses (subscriptions.renewals.renewal_declined)."""
        if self.status != self.Status.PAST_DUE or self.first_failed_at is None:
            return None
        if not self.auto_renew:  # renewal turned off: it ends with the paid term, no more retries
            return self.current_period_end
        days = settings.RENEWAL_RETRY_DAYS
        return self.first_failed_at + timezone.timedelta(days=days[-1]) if days else self.first_failed_at


class TermQuerySet(CopyQuerySet):
    def not_refunded(self):
        """Terms still paid for: their payment not refunded in full."""
        return self.exclude(payment__refunded_minor__gte=models.F("payment__amount_minor"))


class Term(models.Model):
    """One paid term: 30 calendar days from its payment (clause 6.3)."""

    subscription = models.ForeignKey(Subscription, on_delete=models.PROTECT, related_name="terms",
                                     db_index=False)  # term_unique_number leads with it
    payment = models.OneToOneField("billing.Payment", on_delete=models.PROTECT, related_name="term")
    plan = models.ForeignKey("plans.Plan", on_delete=models.PROTECT, related_name="+")
    number = models.PositiveIntegerField()
    starts_at = models.DateTimeField()
    ends_at = models.DateTimeField()
    created_at = models.DateTimeField(auto_now_add=True)

    objects = TermQuerySet.as_manager()  # batch inserts by COPY (soldee.bulk); not_refunded()

    class Meta:
        ordering = ["-starts_at"]
        constraints = [
            models.UniqueConstraint(fields=["subscription", "starts_at"], name="term_unique_start"),
            models.UniqueConstraint(fields=["subscription", "number"], name="term_unique_number"),
            models.CheckConstraint(condition=models.Q(ends_at__gt=models.F("starts_at")), name="term_positive"),
        ]
        verbose_name = _("paid term")
        verbose_name_plural = _("paid terms")

    def __str__(self):
        return f"{self.subscription_id} #{self.number} {timezone.localtime(self.starts_at):%Y-%m-%d}–{timezone.localtime(self.ends_at):%Y-%m-%d}"


class AccessGrant(models.Model):
    """Access to the AI agent for one paid term (clauses 4.1, 4.2, 5.2)."""

    class Status(models.TextChoices):
        PENDING = "pending", _("Being provisioned")
        GRANTED = "granted", _("Granted")
        REVOKED = "revoked", _("Revoked")

    term = models.OneToOneField(Term, on_delete=models.PROTECT, related_name="access_grant")
    customer = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="access_grants"
    )
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PENDING)
    requested_at = models.DateTimeField(help_text="The moment of payment.")
    deadline_at = models.DateTimeField(
        help_text="Payment + 30 minutes (clause 5.2); a term paid ahead: its start + 30 minutes.")
    granted_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)
    breached_at = models.DateTimeField(
        null=True, blank=True, help_text="When the 30-minute deadline was found missed."
    )
    attempts = models.PositiveIntegerField(default=0)
    last_error = models.TextField(blank=True)
    platform_ref = models.CharField(max_length=128, blank=True)

    objects = CopyQuerySet.as_manager()  # batch inserts by COPY (soldee.bulk)

    class Meta:
        ordering = ["-requested_at"]
        indexes = [models.Index(fields=["status", "deadline_at"])]
        verbose_name = _("access grant")
        verbose_name_plural = _("access grants")

    def __str__(self):  # an admin page's title: the term by its number, the status in words
        from django.utils.translation import gettext

        return gettext("%(customer)s, paid term %(number)s: %(status)s") % {
            "customer": self.customer, "number": self.term.number, "status": self.get_status_display()}

    @property
    def granted_on_time(self) -> bool | None:
        if self.granted_at is None:
            return None
        return self.granted_at <= self.deadline_at

    @property
    def idempotency_key(self) -> str:
        return f"access-grant:{self.pk}"


class AgentPlatformKey(models.Model):
    """An API key the AI agent platform uses to ask the entitlement endpoint.
    Only the SHA-256 of the key is stored."""

    name = models.CharField(_("name"), max_length=100)
    key_hash = models.CharField(max_length=64, unique=True, editable=False)
    prefix = models.CharField(_("key begins with"), max_length=12, editable=False)
    is_active = models.BooleanField(_("active"), default=True)
    created_at = models.DateTimeField(_("created"), auto_now_add=True)

    class Meta:
        verbose_name = _("agent platform API key")
        verbose_name_plural = _("agent platform API keys")

    def __str__(self):
        return f"{self.name} ({self.prefix}…)"

    @staticmethod
    def hash(raw: str) -> str:
        return key_hash(raw)

    @classmethod
    def issue(cls, name: str) -> tuple["AgentPlatformKey", str]:
        raw = "sk_agent_" + secrets.token_urlsafe(32)
        return cls.objects.create(name=name, key_hash=cls.hash(raw), prefix=raw[:12]), raw


class AgentCredential(models.Model):
    """A customer's own key for the AI agent (clause 8: access is tied to the customer's
    account; transfer to third parties is prohibited). The platform checks a key with
    POST /api/credentials/verify/ and learns whose it is and whether they are entitled.
    At most one active key per customer; a new key revokes the old one; staff revoke a
    key (a transfer to a third party) without ending the subscription. Only the SHA-256
    of the key is stored; rows are never deleted (evidence)."""

    customer = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT,
                                 related_name="agent_credentials", verbose_name=_("customer"))
    key_hash = models.CharField(max_length=64, editable=False)
    prefix = models.CharField(_("key begins with"), max_length=16, editable=False)
    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    revoked_at = models.DateTimeField(_("revoked"), null=True, blank=True)
    revoked_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True,
                                   related_name="+", verbose_name=_("revoked by"))
    revoke_reason = models.CharField(_("why revoked"), max_length=255, blank=True)
    # When the platform last checked the key, to within LAST_USED_EVERY: the customer and
    # staff see whether a key is in use (one left active after a transfer, one never used).
    last_used_at = models.DateTimeField(_("last used"), null=True, blank=True, editable=False)

    LAST_USED_EVERY = timedelta(minutes=5)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(fields=["key_hash"], name="agentcredential_key_unique"),
            models.UniqueConstraint(fields=["customer"], condition=models.Q(revoked_at__isnull=True),
                                    name="agentcredential_one_active_per_customer"),
        ]
        verbose_name = _("agent access key")
        verbose_name_plural = _("agent access keys")

    def __str__(self):
        return f"{self.customer} · {self.prefix}…"

    @property
    def is_active(self) -> bool:
        return self.revoked_at is None

    PREFIX = "sk_cust_"

    @classmethod
    def new_raw(cls) -> str:
        return cls.PREFIX + secrets.token_urlsafe(32)


class RenewalAttempt(models.Model):
    """One try to pay for the next term. The idempotency key is fixed before the gateway
    is called and reused on every retry of the same try, so a crash, a redelivered task
    or two sweepers never charge twice; (subscription, term_number, attempt_no) is unique."""

    class Status(models.TextChoices):
        CHARGING = "charging", _("Charging")
        SUCCEEDED = "succeeded", _("Paid")
        DECLINED = "declined", _("Declined")
        UNKNOWN = "unknown", _("Outcome unknown (reconciling)")

    IN_FLIGHT = (Status.CHARGING, Status.UNKNOWN)  # the gateway's answer not applied yet

    class Kind(models.TextChoices):
        # AUTOMATIC and STAFF charge the saved card from our side (the reconciliation sweep
        # resolves them); CUSTOMER and INVOICE are paid by the customer.
        AUTOMATIC = "automatic", _("Saved card, automatic")
        CUSTOMER = "customer", _("Customer paid with another card")
        INVOICE = "invoice", _("Customer paid an invoice by bank transfer")
        STAFF = "staff", _("Saved card, extra try by staff")

    subscription = models.ForeignKey(Subscription, on_delete=models.PROTECT, related_name="renewal_attempts",
                                     db_index=False)  # renewalattempt_once_per_try leads with it
    term_number = models.PositiveIntegerField()
    attempt_no = models.PositiveSmallIntegerField()
    kind = models.CharField(max_length=16, choices=Kind.choices, default=Kind.AUTOMATIC)
    payment = models.OneToOneField("billing.Payment", on_delete=models.PROTECT, related_name="renewal_attempt")
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.CHARGING)
    created_at = models.DateTimeField(auto_now_add=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    error = models.CharField(max_length=255, blank=True)

    objects = CopyQuerySet.as_manager()  # batch inserts by COPY (soldee.bulk)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(fields=["subscription", "term_number", "attempt_no"],
                                    name="renewalattempt_once_per_try"),
        ]
        indexes = [models.Index(fields=["status", "created_at"])]
        verbose_name = _("renewal attempt")
        verbose_name_plural = _("renewal attempts")

    def __str__(self):
        return _("Subscription #%(subscription)s, term %(term)s, try %(try)s: %(status)s") % {
            "subscription": self.subscription_id, "term": self.term_number, "try": self.attempt_no,
            "status": self.get_status_display()}
