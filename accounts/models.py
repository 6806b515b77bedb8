import uuid

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser, BaseUserManager, PermissionsMixin
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

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
        _("IIN / BIN"), max_length=12, validators=[validate_iin_bin],
        help_text=_("12 digits: IIN for an individual, BIN for a legal entity."),
    )
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
        return f"{self.name} ({self.iin_bin})"

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
