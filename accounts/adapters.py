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
