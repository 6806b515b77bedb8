import uuid

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser, BaseUserManager, PermissionsMixin
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from .validators import validate_iin_bin


class UserManager(BaseUserManager):
    use_in_migrations = True

    def _create_user(self, email, password, **extra):
        if not email:
            raise ValueError("An e-mail address is required")
        user = self.model(email=self.normalize_email(email).lower(), **extra)
        user.set_password(password)
        user.save(using=self._db)
        return user

    def create_user(self, email, password=None, **extra):
        extra.setdefault("is_staff", False)
        extra.setdefault("is_superuser", False)
        return self._create_user(email, password, **extra)

    def create_superuser(self, email, password=None, **extra):
        extra["is_staff"] = True
        extra["is_superuser"] = True
        return self._create_user(email, password, **extra)


class User(AbstractBaseUser, PermissionsMixin):
    """A login. E-mail is the username; `public_id` is what outside systems see."""

    email = models.EmailField(_("e-mail address"), unique=True)
    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    is_staff = models.BooleanField(_("staff status"), default=False)
    is_active = models.BooleanField(_("active"), default=True)
    date_joined = models.DateTimeField(_("date joined"), default=timezone.now)
    language = models.CharField(
        _("language"), max_length=8, choices=settings.LANGUAGES, default="ru"
    )

    objects = UserManager()

    USERNAME_FIELD = "email"
    EMAIL_FIELD = "email"
    REQUIRED_FIELDS = []

    class Meta:
        verbose_name = _("user")
        verbose_name_plural = _("users")

    def __str__(self):
        return self.email


class CustomerProfile(models.Model):
    """Who the Customer is (offer clause 3): filled before the first purchase."""

    class Kind(models.TextChoices):
        INDIVIDUAL = "individual", _("Individual")
        LEGAL_ENTITY = "legal_entity", _("Legal entity")

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="profile"
    )
    kind = models.CharField(_("customer type"), max_length=16, choices=Kind.choices)
    name = models.CharField(_("full name or legal name"), max_length=255)
    iin_bin = models.CharField(
        _("IIN / BIN"), max_length=12, validators=[validate_iin_bin], blank=True,
        help_text=_("12 digits: IIN for an individual, BIN for a legal entity. A non-resident "
                    "without one leaves it empty."),
    )  # required of residents (CustomerProfileForm); non-residents rarely have one (clause 6.2)
    signatory_name = models.CharField(_("signatory's full name"), max_length=255, blank=True)
    signatory_basis = models.CharField(
        _("signatory's basis of authority"), max_length=255, blank=True,
        help_text=_("For example: the Charter, or power of attorney No. 12 of 01.02.2026."),
    )
    address = models.TextField(_("legal address"))
    postal_address = models.TextField(
        _("postal address"), blank=True, help_text=_("Where paper documents are sent, if different.")
    )
    phone = models.CharField(_("phone"), max_length=32)
    is_resident = models.BooleanField(_("resident of Kazakhstan"), default=True)
    country = models.CharField(
        _("country"), max_length=2, default="KZ",
        help_text=_("ISO country code, for example KZ, RU, US."),
    )
    payment_currency = models.CharField(
        _("payment currency"), max_length=3, default="KZT",
        help_text=_("Non-residents pay the KZT price converted at the National Bank of Kazakhstan rate."),
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = _("customer profile")
        verbose_name_plural = _("customer profiles")

    def __str__(self):
        return f"{self.name} ({self.iin_bin})" if self.iin_bin else self.name

    def snapshot(self) -> dict:
        """The profile as it is now, for contract records that must not change later."""
        return {
            "kind": self.kind,
            "name": self.name,
            "iin_bin": self.iin_bin,
            "signatory_name": self.signatory_name,
            "signatory_basis": self.signatory_basis,
            "address": self.address,
            "postal_address": self.postal_address,
            "phone": self.phone,
            "is_resident": self.is_resident,
            "country": self.country,
            "payment_currency": self.payment_currency,
            "email": self.user.email,
        }


class PersonalDataConsent(models.Model):
    """Consent to personal-data processing, recorded at sign-up (RK Law on Personal Data)."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="consents"
    )
    policy = models.ForeignKey(
        "offer.LegalDocument", on_delete=models.PROTECT, related_name="+",
        verbose_name=_("privacy policy version"),
    )
    given_at = models.DateTimeField(default=timezone.now)
    ip_address = models.GenericIPAddressField(null=True, blank=True)
    user_agent = models.TextField(blank=True)
    withdrawn_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = _("personal-data consent")
        verbose_name_plural = _("personal-data consents")
        ordering = ["-given_at"]


def _export_path(instance, filename: str) -> str:
    # A random folder: never guessable; served only through the owner's download view.
    return f"data-exports/{uuid.uuid4().hex}/{filename}"


class DataExport(models.Model):
    """A customer's copy of all their personal data (RK Law on Personal Data): a ZIP
    built in the background, downloadable by its owner until it expires."""

    class Status(models.TextChoices):
        REQUESTED = "requested", pgettext_lazy("data export status", "Requested")
        BUILDING = "building", _("Being prepared")
        READY = "ready", _("Ready to download")
        FAILED = "failed", _("Failed")
        EXPIRED = "expired", _("Expired")

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    customer = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="data_exports"
    )
    status = models.CharField(_("status"), max_length=16, choices=Status.choices,
                              default=Status.REQUESTED)
    requested_at = models.DateTimeField(_("requested at"), default=timezone.now)
    started_at = models.DateTimeField(null=True, blank=True)
    ready_at = models.DateTimeField(_("ready at"), null=True, blank=True)
    expires_at = models.DateTimeField(_("available until"), null=True, blank=True)
    file = models.FileField(upload_to=_export_path, blank=True, max_length=200)
    size_bytes = models.BigIntegerField(null=True, blank=True)
    error = models.TextField(blank=True)
    # Builds started by the worker (each claim, Celery's retries included), so the sweep that
    # re-sends a lost or failed build (accounts.tasks.data_export_sweep) stops after
    # soldee.tasks.RENDER_MAX_ATTEMPTS and leaves the export to staff (admin: filter
    # "Build", action "Build again"); `started_at` is when the last one began.
    build_attempts = models.PositiveIntegerField(_("build attempts"), default=0)

    class Meta:
        ordering = ["-requested_at"]
        constraints = [
            models.CheckConstraint(
                condition=~models.Q(status="ready") | models.Q(expires_at__isnull=False),
                name="dataexport_ready_has_expiry",
            ),
        ]
        indexes = [models.Index(fields=["status", "requested_at"])]
        verbose_name = _("personal-data export")
        verbose_name_plural = _("personal-data exports")

    def __str__(self):  # an admin page's title: the time and status as staff read them
        from django.utils import formats

        return (f"{self.customer} {formats.date_format(timezone.localtime(self.requested_at), 'DATETIME_FORMAT')} "
                f"{self.get_status_display()}")

    @property
    def is_downloadable(self) -> bool:
        return (self.status == self.Status.READY and bool(self.file)
                and self.expires_at is not None and self.expires_at > timezone.now())

    @property
    def is_pending(self) -> bool:
        return self.status in (self.Status.REQUESTED, self.Status.BUILDING)


class AccountDeletionRequest(models.Model):
    """A customer's request to delete the account. Staff confirm it in the admin; the
    account is then anonymised (accounting and contract records are kept)."""

    class Status(models.TextChoices):
        REQUESTED = "requested", _("Awaiting confirmation")
        COMPLETED = "completed", _("Completed: personal data anonymised")
        REJECTED = "rejected", _("Rejected")

    customer = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="deletion_requests"
    )
    status = models.CharField(_("status"), max_length=16, choices=Status.choices,
                              default=Status.REQUESTED)
    reason = models.TextField(_("reason (optional)"), blank=True)
    requested_at = models.DateTimeField(_("requested at"), default=timezone.now)
    decided_at = models.DateTimeField(_("decided at"), null=True, blank=True)
    decided_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True,
                                   on_delete=models.PROTECT, related_name="+")
    decision_note = models.TextField(_("decision note"), blank=True)

    class Meta:
        ordering = ["-requested_at"]
        constraints = [
            models.UniqueConstraint(fields=["customer"], condition=models.Q(status="requested"),
                                    name="deletionrequest_one_open_per_customer"),
            models.CheckConstraint(
                condition=models.Q(status="requested") | models.Q(decided_at__isnull=False),
                name="deletionrequest_decided_has_time",
            ),
        ]
        verbose_name = _("account deletion request")
        verbose_name_plural = _("account deletion requests")

    def __str__(self):
        return f"#{self.pk} {self.customer} · {self.get_status_display()}"
