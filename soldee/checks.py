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


@register(Tags.security, deploy=True)
def agent_platform_is_told(app_configs, **kwargs):
    """Clause 4.2 / 5.2: access counts as granted when the portal records the grant. With no
    platform webhook, the grant is recorded locally and only the platform's own queries of
    the entitlement API give access; with a webhook, its messages must be signed."""
    from django.core.checks import Warning

    if not settings.AGENT_PLATFORM_WEBHOOK_URL:
        return [Warning("AGENT_PLATFORM_WEBHOOK_URL is empty: access grants are recorded without telling the AI "
                        "agent platform (clause 5.2's 30 minutes run from the payment all the same).",
                        hint="Set AGENT_PLATFORM_WEBHOOK_URL and AGENT_PLATFORM_WEBHOOK_SECRET, or make sure the "
                             "platform polls the entitlement API with its key.", id="soldee.W002")]
    if not settings.AGENT_PLATFORM_WEBHOOK_SECRET:
        return [Error("AGENT_PLATFORM_WEBHOOK_URL is set but AGENT_PLATFORM_WEBHOOK_SECRET is empty: the platform "
                      "cannot verify that grants and revokes come from the portal.",
                      hint="Set AGENT_PLATFORM_WEBHOOK_SECRET to the secret shared with the platform.",
                      id="soldee.E003")]
    return []


@register(Tags.security, deploy=True)
def retired_gateways_are_real(app_configs, **kwargs):
    """PAYMENT_GATEWAYS_RETIRED keeps a real gateway's notifications coming while its
    payments wind down; the sandbox there would let anyone holding its secret pay invoices."""
    from billing.gateways import GatewayError, get_gateway

    errors = []
    for name in settings.PAYMENT_GATEWAYS_RETIRED:
        if name == "sandbox" and settings.PAYMENT_GATEWAY != "sandbox":
            errors.append(Error("PAYMENT_GATEWAYS_RETIRED names the sandbox beside a real gateway: sandbox-signed "
                                "notifications would be accepted as payments.",
                                hint="Remove 'sandbox' from PAYMENT_GATEWAYS_RETIRED.", id="soldee.E004"))
            continue
        try:
            get_gateway(name)
        except GatewayError:
            errors.append(Error(f"PAYMENT_GATEWAYS_RETIRED names {name!r}, which is not a payment gateway.",
                                hint="Use the adapter's name, as in PAYMENT_GATEWAY.", id="soldee.E005"))
    return errors


@register(Tags.security, deploy=True)
def sandbox_takes_no_money_in_production(app_configs, **kwargs):
    """Found by the security review: production settings that passed `check --deploy` ran
    the sandbox, where anyone buys a plan with the test card 4242 4242 4242 4242."""
    if settings.PAYMENT_GATEWAY == "sandbox" and not settings.DEBUG and not settings.SANDBOX_PAYMENTS_ALLOWED:
        return [Error("PAYMENT_GATEWAY is the sandbox: anyone can buy a plan with a test card.",
                      hint="Set PAYMENT_GATEWAY=cloudpayments (docs/cloudpayments.md); on a staging or demo site, "
                           "set SANDBOX_PAYMENTS_ALLOWED=1.", id="soldee.E006")]
    return []


@register(Tags.security, deploy=True)
def limits_are_shared_and_see_the_client(app_configs, **kwargs):
    """Found by the security review. Login and sign-up limits count in the cache: a cache of
    each process multiplies them by the number of processes. Behind the proxy production
    trusts for HTTPS, with no proxy counted, every client has the proxy's address, so one
    client's failures lock everyone out of logging in."""
    from django.core.checks import Warning

    found = []
    if not settings.SOLDEE_SHARED_CACHE:
        found.append(Error("CACHE_URL is not a shared cache: login and sign-up limits, sessions and the page cache "
                           "are kept by each process.",
                           hint="Set CACHE_URL=redis://... (docker-compose.yml does).", id="soldee.E007"))
    if settings.SECURE_PROXY_SSL_HEADER and not settings.ALLAUTH_TRUSTED_PROXY_COUNT:
        found.append(Warning("HTTPS is taken from a proxy's X-Forwarded-Proto, but TRUSTED_PROXY_COUNT is 0: every "
                             "client has the proxy's IP address, and per-address limits lock out everyone at once.",
                             hint="Set TRUSTED_PROXY_COUNT to the number of proxies in front of the portal (1 behind "
                                  "one).", id="soldee.W008"))
    return found


@register()
def almaty_is_utc_plus_5(app_configs, **kwargs):
    """Found by the dates review. Kazakhstan moved to one time zone, UTC+5, on 1 March 2024
    (tz 2024a). A host with older zone data would put every term, deadline and document an
    hour off without a word: refuse to start on it. The commands that run system checks
    (migrate, runserver, check) stop on it; the web (wsgi.py) and the Celery worker and beat
    (celery.py) run it as they start (refuse_at_start), since they run no system checks."""
    from datetime import UTC, datetime, timedelta
    from zoneinfo import ZoneInfo

    offset = datetime(2025, 1, 1, tzinfo=UTC).astimezone(ZoneInfo(settings.TIME_ZONE)).utcoffset()
    if settings.TIME_ZONE == "Asia/Almaty" and offset != timedelta(hours=5):
        hours = offset.total_seconds() / 3600
        return [Error(f"The time-zone data gives Asia/Almaty UTC{hours:+g}; it is UTC+5 since 1 March 2024.",
                      hint="Update the system's tzdata package (2024a or later), or install the tzdata wheel "
                           "and remove the system zone files.", id="soldee.E009")]
    return []


@register()
def staff_records_language_is_offered(app_configs, **kwargs):
    """Staff alerts and the records kept for staff are written in STAFF_RECORDS_LANGUAGE:
    a language the portal has no catalogue for would give them in no language anyone chose
    (Django falls back without a word). Run at the start of gunicorn and Celery too
    (refuse_at_start)."""
    codes = [code for code, _name in settings.LANGUAGES]
    if settings.STAFF_RECORDS_LANGUAGE not in codes:
        return [Error(f"STAFF_RECORDS_LANGUAGE is {settings.STAFF_RECORDS_LANGUAGE!r}, which is not one of the "
                      f"portal's languages ({', '.join(codes)}).",
                      hint="Set STAFF_RECORDS_LANGUAGE to one of these codes, or leave it unset for English.",
                      id="soldee.E010")]
    return []


# The checks that processes running no system checks (gunicorn: wsgi.py; the Celery worker
# and beat: celery.py) run as they start: a wrong clock or staff language must stop them too.
STARTUP_CHECKS = (almaty_is_utc_plus_5, staff_records_language_is_offered)


def refuse_at_start() -> None:
    """For processes that run no system checks (gunicorn, Celery): stop on any error of
    STARTUP_CHECKS (E009, E010), every one named with its id and hint."""
    from django.core.exceptions import ImproperlyConfigured

    errors = [error for check in STARTUP_CHECKS for error in check(None) if error.is_serious()]
    if errors:
        raise ImproperlyConfigured(" ".join(f"{error.id}: {error.msg} {error.hint}" for error in errors))
