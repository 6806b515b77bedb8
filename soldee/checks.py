"""Deployment checks of our own (`manage.py check --deploy`), beside Django's."""

from django.conf import settings
from django.core.checks import Error, Tags, register


@register(Tags.security, deploy=True)
def sandbox_gateway_has_a_secret(app_configs, **kwargs):
    """A deployment on the sandbox gateway (staging) with no webhook secret refuses every
    notification the sandbox signs: delayed approvals would never reach the portal."""
    if settings.PAYMENT_GATEWAY == "sandbox" and not settings.SANDBOX_WEBHOOK_SECRET:
        return [Error("PAYMENT_GATEWAY is the sandbox, but SANDBOX_WEBHOOK_SECRET is empty: every sandbox "
                      "notification would be refused.",
                      hint="Set SANDBOX_WEBHOOK_SECRET to a long random string (in .env).", id="soldee.E001")]
    return []
