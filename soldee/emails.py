"""Customer e-mail: rendered in the customer's language from templates/<name>.txt
(+ .html when present), sent once per idempotency key."""

import logging
import re

from django.core.cache import cache
from django.core.mail import EmailMultiAlternatives
from django.template import TemplateDoesNotExist
from django.template.loader import render_to_string
from django.utils import translation
from django.utils.html import escape, urlize
from django.utils.safestring import mark_safe
from django.utils.translation import gettext as _

log = logging.getLogger(__name__)

# accounts.personal_data.anonymised_email gives a deleted account "deleted-<id>@invalid".
ANONYMISED_EMAIL_DOMAIN = "@invalid"


def send_customer_email(*, user, template: str, context: dict, idempotency_key: str | None = None,
                        to: list[str] | None = None) -> bool:
    """Send `template` to the user. Returns False if this key was already sent
    (task redelivery never doubles an e-mail while the cache remembers it). A send that
    fails gives the key back, so the caller's retry sends it."""
    if not to and user.email.endswith(ANONYMISED_EMAIL_DOMAIN):
        # A deleted (anonymised) account has no address: its refund, receipt or copy notices
        # are kept in the records and not sent (the goodbye e-mail names its address in `to`).
        log.info("no e-mail %s to the anonymised account %s", template, user.pk)
        return False
    key = f"email-sent:{idempotency_key}" if idempotency_key else None
    if key and not cache.add(key, 1, timeout=7 * 24 * 3600):
        return False
    try:
        _send(user=user, template=template, context=context, to=to)
    except Exception:
        if key:
            cache.delete(key)
        raise
    return True


def _send(*, user, template: str, context: dict, to: list[str] | None) -> None:
    with translation.override(getattr(user, "language", None) or "ru"):
        from django.conf import settings

        from .provider import provider_details

        ctx = {"user": user, "provider": provider_details(), "SITE_URL": settings.SITE_URL, **context}
        subject = render_to_string(f"{template}_subject.txt", ctx).strip()
        text = render_to_string(f"{template}.txt", ctx)
        try:
            html = render_to_string(f"{template}.html", ctx)
        except TemplateDoesNotExist:
            # Every e-mail gets an HTML part in the portal's look: the text, laid out.
            html = render_to_string("emails/base_email.html", {**ctx, "subject": subject,
                                                               "paragraphs": _paragraphs(text)})
    message = EmailMultiAlternatives(subject=subject, body=text, to=to or [user.email])
    if html:
        message.attach_alternative(html, "text/html")
    message.send()


def send_staff_alert(*, subject: str, body: str) -> None:
    """`subject` and `body` come written in STAFF_RECORDS_LANGUAGE (soldee.staff_language);
    so does the prefix, whatever language the worker has active."""
    from django.conf import settings
    from django.core.mail import send_mail

    from .staff_language import staff_language

    with staff_language():
        subject = _("[Soldee staff] %(subject)s") % {"subject": subject}
    send_mail(subject=subject, message=body, from_email=None, recipient_list=settings.STAFF_ALERT_EMAILS)


def _paragraphs(text: str) -> list[str]:
    """Plain text → safe HTML paragraphs (links made clickable, line breaks kept)."""
    blocks = [b.strip() for b in re.split(r"\n\s*\n", text) if b.strip()]
    return [mark_safe(urlize(escape(b), autoescape=False).replace("\n", "<br>")) for b in blocks]
