import logging
from datetime import datetime

from celery import shared_task
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from accounts.personal_data import consent_withdrawn
from soldee.emails import send_customer_email, send_staff_alert
from soldee.money import format_money
from soldee.staff_language import staff_language
from soldee.tasks import fan_out

from . import agent_platform, services
from .models import AccessGrant, AgentCredential, Subscription, Term

log = logging.getLogger(__name__)


def _platform_retry(task, exc):
    """The agent platform did not answer: try again with backoff (5 s .. 5 min)."""
    return task.retry(exc=exc, countdown=min(5 * 2 ** task.request.retries, 300))


@shared_task(bind=True, max_retries=10, acks_late=True)
def access_grant(self, grant_id: int) -> None:
    """Provision access right after payment; retried with backoff (5 s .. ~5 min) so
    a short platform outage still ends well inside the 30-minute promise."""
    try:
        services.access_provision(grant_id=grant_id)
    except agent_platform.PlatformError as exc:
        raise _platform_retry(self, exc) from exc


@shared_task(acks_late=True)
def access_grant_many(grant_ids: list[int]) -> int:
    """A renewal batch's access grants: one message from the settlement, fanned out here
    into one `access_grant` task per grant (its own backoff; a slow platform delays no
    other grant)."""
    return fan_out(access_grant, grant_ids)


@shared_task
def access_grant_sweep() -> int:
    """Grants still pending a minute after payment (lost task, worker died): try again."""
    cutoff = timezone.now() - timezone.timedelta(minutes=1)
    ids = list(AccessGrant.objects.filter(status=AccessGrant.Status.PENDING, requested_at__lt=cutoff)
               .values_list("pk", flat=True)[:500])
    for pk in ids:
        access_grant.delay(pk)
    return len(ids)


@shared_task
def access_deadline_sweep() -> int:
    """Flag every grant whose 30-minute deadline passed without access (clause 5.2). One
    granted after its deadline is flagged when it is granted (services.access_mark_granted)."""
    now = timezone.now()
    ids = list(
        AccessGrant.objects.filter(breached_at__isnull=True, status=AccessGrant.Status.PENDING,
                                   deadline_at__lt=now).values_list("pk", flat=True)[:1000]
    )
    return sum(services.access_flag_breach(grant_id=pk) for pk in ids)


@shared_task(bind=True, max_retries=5, default_retry_delay=60)
def access_breach_alert(self, grant_id: int) -> None:
    grant = AccessGrant.objects.select_related("customer", "term").get(pk=grant_id)
    with staff_language():
        subject = _("Access not granted within 30 minutes: %(email)s") % {"email": grant.customer.email}
        body = _("Access grant %(grant)s for term %(term)s was due at %(deadline)s (Almaty time). Its status: "
                 "%(status)s. The payment is refundable under clause 7 of the offer.") % {
            "grant": grant.pk, "term": grant.term_id, "status": grant.get_status_display(),
            "deadline": f"{timezone.localtime(grant.deadline_at):%Y-%m-%d %H:%M}"}
    try:
        send_staff_alert(subject=subject, body=body)
    except OSError as exc:  # the mail server is down: this alert grounds a refund, it must arrive
        raise self.retry(exc=exc) from exc


# The notices of a renewal deferred for want of an exchange rate or of a payment currency
# (renewals._renewal_deferred).
DEFERRAL_TEMPLATES = ("emails/renewal_currency_needed", "emails/renewal_deferred")


# The e-mails that say how to go on (renewal back on, a new purchase), which with consent
# withdrawn must first say to give it again.
CONSENT_TEMPLATES = ("emails/renewal_cancelled", "emails/subscription_ended")


def _currency_not_chosen(customer) -> bool:
    from billing.exchange import CurrencyNotChosen, RateUnavailable, conversion_for

    try:
        conversion_for(customer=customer, kzt_amount_minor=1)
    except CurrencyNotChosen:
        return True
    except RateUnavailable:
        return False
    return False


@shared_task(bind=True, max_retries=5, default_retry_delay=60, acks_late=True)
def subscription_email(self, subscription_id: int, template: str, reminder_for: str | None = None) -> None:
    """`reminder_for`: the end of the term a renewal reminder was claimed for (ISO). A
    reminder reaching a worker after that term was renewed, or renewal turned off, or the
    subscription ended, is not sent: it would announce a charge already made (or none).
    Renewed: the claim (reminder_sent_for) is no longer for the period in use, or the period
    ends later than the claimed one. The staff test clock moves both back together (an
    earlier end, the claim still equal to it): not a renewal, the reminder is sent."""
    from billing.exchange import quote_for

    from .selectors import paid_ahead_refund, payment_options

    subscription = Subscription.objects.select_related("customer", "plan").get(pk=subscription_id)
    if reminder_for is not None and (
            not subscription.is_live or not subscription.auto_renew
            or subscription.reminder_sent_for != subscription.current_period_end
            or subscription.current_period_end > datetime.fromisoformat(reminder_for)):
        log.info("renewal reminder for subscription %s (term ending %s) not sent: the subscription moved on",
                 subscription_id, reminder_for)
        return
    customer = subscription.customer
    # A non-resident is charged the equivalent at the rate of the charge date: today's is a guide.
    # `why` is sent in the e-mail: written in the e-mail's language (send_customer_email's),
    # not the worker's
    with translation.override(getattr(customer, "language", None) or "ru"):
        quote, why = quote_for(customer=customer, kzt_amount_minor=subscription.renewal_price_minor)
    currency_needed = quote is None and _currency_not_chosen(customer)
    if template in DEFERRAL_TEMPLATES and (
            not subscription.is_live or not subscription.auto_renew or quote is not None
            or (template == "emails/renewal_currency_needed" and not currency_needed)):
        # Renewed, cancelled, or the currency chosen (the rate published) before the worker
        # got it: the next hourly try charges the card; the notice would be wrong.
        log.info("%s for subscription %s not sent: the renewal can be charged now or has moved on",
                 template, subscription_id)
        return
    # The tenge price of the term in use: a reminder says when the next one costs another.
    last = (Term.objects.filter(subscription=subscription).order_by("-number")
            .values_list("payment__kzt_amount_minor", flat=True).first())
    price_changed_from = (format_money(last, "KZT", language=customer.language)  # the e-mail's language
                          if last and last != subscription.renewal_price_minor else "")
    # No saved card (a legal entity paying by invoice): the e-mail says how to pay instead.
    # Until a payment goes through, access runs to the paid term's end (and, past due, the grace).
    access_until = services.access_until(subscription)
    send_customer_email(user=customer, template=template,
                        context={"subscription": subscription, **payment_options(customer),
                                 "quote": quote if quote is not None and quote.currency != "KZT" else None,
                                 "price_changed_from": price_changed_from, "access_until": access_until,
                                 # why the renewal cannot be charged now (a deferred one), and
                                 # whether choosing a payment currency in the profile fixes it
                                 "renewal_blocked": why if quote is None else "",
                                 "currency_needed": currency_needed,
                                 "access_stopped": access_until <= timezone.now(),
                                 # renewal off, or ended, with consent withdrawn: renewal (or a new
                                 # purchase) needs it given again first (personal_data.consent_withdraw)
                                 "consent_withdrawn": template in CONSENT_TEMPLATES and consent_withdrawn(customer),
                                 # renewal off with the next term paid, not begun: how to have its payment back
                                 "paid_ahead_refund": paid_ahead_refund(subscription)
                                 if template == "emails/renewal_cancelled" else None})


@shared_task(bind=True, max_retries=10, acks_late=True)
def access_revoke_notify(self, grant_id: int, after_grant: bool = False) -> None:
    """Tell the agent platform that access for a term is revoked (retried with backoff).
    `after_grant`: said again because a grant reached the platform after the first revoke
    (a key of its own, so the platform does not drop it as a duplicate)."""
    grant = AccessGrant.objects.select_related("customer", "term__plan", "term__subscription").get(pk=grant_id)
    if not agent_platform.is_configured():
        return
    # A refunded term that had not started: the term in use keeps its access to its end.
    subscription = grant.term.subscription
    until = subscription.current_period_end.isoformat() if (
        subscription.is_live and subscription.current_period_end > timezone.now()) else None
    try:
        # The customer's entitlement as the portal sees it now goes with the revoke: a revoke
        # delayed by retries, for an old subscription, must not end access that a newer one
        # (already granted on the platform) gives. The platform applies `entitlement`.
        agent_platform.send(action="revoke", customer_ref=str(grant.customer.public_id),
                            plan_code=grant.term.plan.code, until=until,
                            idempotency_key=f"access-revoke:{grant.pk}" + (":after-grant" if after_grant else ""),
                            extra={"subscription": subscription.pk, "term": grant.term.number,
                                   "entitlement": services.entitlement(grant.customer)})
    except agent_platform.PlatformError as exc:
        raise _platform_retry(self, exc) from exc


@shared_task(bind=True, max_retries=10, acks_late=True)
def credential_revoke_notify(self, credential_id: int) -> None:
    """Tell the agent platform a customer's key was revoked, so it drops the sessions the
    key opened at once (it must also check keys with the verify endpoint)."""
    credential = AgentCredential.objects.select_related("customer").get(pk=credential_id)
    if not agent_platform.is_configured():
        return
    try:
        agent_platform.send(action="key_revoked", customer_ref=str(credential.customer.public_id), plan_code="",
                            until=None, idempotency_key=f"access-key-revoke:{credential.pk}",
                            extra={"key_prefix": credential.prefix})
    except agent_platform.PlatformError as exc:
        raise _platform_retry(self, exc) from exc


# --- Renewals (subscriptions/renewals.py explains the design) -------------------------

@shared_task(acks_late=True, time_limit=3300, soft_time_limit=3000)
def renewal_sweep() -> dict:
    """Beat, every minute. Safe to run twice or in parallel (SKIP LOCKED claims, fixed
    idempotency keys), so acks_late redelivery is harmless. Each run and each batch leave
    a "renewals" heartbeat: /health/all/ fails when no worker takes the renewals queue."""
    from soldee.tasks import heartbeat

    from . import renewals

    heartbeat("renewals")
    return renewals.renewals_run(on_batch=lambda: heartbeat("renewals"))


@shared_task(acks_late=True)
def renewal_reconcile() -> dict:
    from . import renewals

    return renewals.renewals_reconcile()


@shared_task
def renewal_reminder_sweep() -> int:
    from . import renewals

    claimed = renewals.reminders_due()
    for pk, term_end in claimed:
        subscription_email.delay(pk, "emails/renewal_reminder", reminder_for=term_end.isoformat())
    return len(claimed)


@shared_task
def subscription_expiry_sweep() -> int:
    from . import renewals

    return renewals.subscriptions_expire()
