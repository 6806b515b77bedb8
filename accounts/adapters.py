from types import SimpleNamespace
from urllib.parse import urlsplit

from allauth.account.adapter import DefaultAccountAdapter
from django.conf import settings
from django.utils import translation


class AccountAdapter(DefaultAccountAdapter):
    """Remember the language the customer signed up in: e-mails use it."""

    def save_user(self, request, user, form, commit=True):
        user = super().save_user(request, user, form, commit=False)
        user.language = (translation.get_language() or "ru").split("-")[0]
        if commit:
            user.save()
        return user

    def send_mail(self, template_prefix: str, email: str, context: dict) -> None:
        # allauth greets "Hello from <site name>!": without the sites framework that is the
        # request's host ("127.0.0.1:8000"); the customer should read the service's name.
        site = SimpleNamespace(name="Soldee", domain=urlsplit(settings.SITE_URL).netloc or "soldee.kz")
        super().send_mail(template_prefix, email, {"current_site": site, **context})

    def _get_login_attempts_cache_key(self, request, **credentials) -> str:
        """The key allauth counts failed logins under ("login_failed": 5 per key in 15 minutes,
        after which even the right password is refused). allauth keys it by the e-mail alone,
        so anybody who knows a staff address could keep that staff member out of the admin
        for good, from one IP, with five wrong passwords every 15 minutes. For a staff member
        with an authenticator app (the admin never opens on a password alone) the count is per
        e-mail *and* client IP: an attacker locks out only their own address, the per-IP limit
        still holds every address to 10 failures a minute, and the code step has its own
        limit. Customers, and staff not yet using a second factor, keep the per-e-mail lock
        (docs/security.md)."""
        key = super()._get_login_attempts_cache_key(request, **credentials)
        login = credentials.get("email") or ""
        if login and _is_staff_with_second_factor(login):
            from allauth.core.internal.ratelimit import get_ip  # allauth's IP, IPv6 cut to its /64

            key = f"{key}:ip:{get_ip(request)}"
        return key


def _is_staff_with_second_factor(email: str) -> bool:
    from allauth.account.utils import filter_users_by_email

    from .middleware import staff_has_totp

    return any(
        user.is_staff and staff_has_totp(user)
        for user in filter_users_by_email(email, is_active=True)
    )
