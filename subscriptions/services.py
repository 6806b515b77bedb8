"""Subscription state changes: checkout, the paid term, renewal switch, access.
Each function is one transaction, locks customer → subscription, records an event and
defers side effects to on_commit."""

from __future__ import annotations

import logging
from collections.abc import Callable

from django.conf import settings
from django.db import transaction
from django.db.models import OuterRef, Q
from django.utils import formats, timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop

from accounts.personal_data import (
    CONSENT_WITHDRAWN_MESSAGE,
    DELETION_PENDING_MESSAGE,
    consent_withdrawn,
    deletion_requested,
)
from billing import exchange
from billing import services as billing
from billing.models import Payment
from offer import services as offer_services
from plans.models import Plan
from soldee import events
from soldee.locking import lock_customer as _lock_customer
from soldee.models import Event
from soldee.staff_language import staff_language
from soldee.tasks import enqueue_on_commit, staff_alert

from . import agent_platform
from .models import LIVE_STATUSES, AccessGrant, Subscription, Term
from .terms import term_end

log = logging.getLogger(__name__)

PURPOSE_CHECKOUT = "subscription.checkout"


class CheckoutRefused(Exception):
    """A checkout that must not go ahead; the message is shown to the customer."""




def live_subscription(customer) -> Subscription | None:
    return (
        Subscription.objects.filter(customer=customer, status__in=LIVE_STATUSES)
        .select_related("plan").first()
    )


# --- Checkout ----------------------------------------------------------------------

def checkout_start(*, customer, plan: Plan, document_ids: list[int], token: str,
                   client_ip: str | None, user_agent: str) -> Payment:
    """Create (or find, for the same checkout token) the pending payment that pins the
    plan, the amount and the document versions the customer was shown."""
    if not hasattr(customer, "profile"):
        raise CheckoutRefused(_("Please fill in your customer details first."))
    if consent_withdrawn(customer):
        raise CheckoutRefused(str(CONSENT_WITHDRAWN_MESSAGE))
    if deletion_requested(customer):
        raise CheckoutRefused(str(DELETION_PENDING_MESSAGE))
    if not plan.is_active:
        raise CheckoutRefused(_("This plan is no longer on sale."))
    already = CheckoutRefused(_("You already have an active subscription. You can buy a new plan when it ends."))
    if live_subscription(customer) is not None:
        raise already
    key = f"checkout:{customer.pk}:{token}"
    in_flight = checkout_in_flight(customer, except_key=key)
    if in_flight is not None:
        raise CheckoutRefused(still_processing(in_flight))
    if live_subscription(customer) is not None:  # an earlier checkout the gateway had approved: settled just now
        raise already
    existing = Payment.objects.filter(idempotency_key=key).values_list("status", flat=True).first()
    if existing == Payment.Status.EXPIRED:  # an old tab's form sent again after a newer page replaced it
        raise CheckoutRefused(_("This payment page was replaced by a newer one (another tab or window). Please "
                                "review the purchase again, or pay on the newer page."))
    if existing is None:  # a re-sent form returns its own payment and leaves the others alone
        payment_pages_supersede(customer, purpose=PURPOSE_CHECKOUT, except_key=key)
    in_force = offer_services.documents_in_force()
    if sorted(document_ids) != sorted(d.pk for d in in_force.values()):
        raise CheckoutRefused(
            _("The legal documents were updated while you were reading them. Please review them again.")
        )
    try:
        conversion = exchange.conversion_for(customer=customer, kzt_amount_minor=plan.price_minor)
    except exchange.RateUnavailable as exc:
        raise CheckoutRefused(str(exc))
    payment, _created = billing.payment_create(
        customer=customer,
        purpose=PURPOSE_CHECKOUT,
        purpose_ref=plan.code,
        description=f"Soldee — {plan.name}, 30 days",
        conversion=conversion,
        idempotency_key=f"checkout:{customer.pk}:{token}",
        pinned_documents=[offer_services.pin(d) for d in in_force.values()],
        client_ip=client_ip,
        user_agent=user_agent,
    )
    return payment


def checkout_in_flight(customer, *, except_key: str = "", purpose: str = PURPOSE_CHECKOUT) -> Payment | None:
    """A card payment (of `purpose`: a checkout, or a past-due customer's renewal) the
    customer already submitted on the hosted page and the bank has not decided yet (a
    delayed approval, 3-D Secure): paying again, or ending what it pays for, now would go
    wrong. Asks the gateway about the customer's open card payments (no transaction open)
    and applies any answer it already has; a page never submitted is not in flight, nor
    one older than CHECKOUT_IN_FLIGHT_MINUTES (a 3-D Secure page the customer closed stays
    undecided at the gateway: it must not block for long)."""
    from billing.gateways import ChargeStatus, get_gateway

    since = timezone.now() - timezone.timedelta(minutes=settings.CHECKOUT_IN_FLIGHT_MINUTES)
    open_checkouts = (Payment.objects.filter(customer=customer, purpose=purpose, method=Payment.Method.CARD,
                                             status=Payment.Status.PENDING, created_at__gte=since)
                      .exclude(idempotency_key=except_key).order_by("-created_at")[:3])
    for payment in open_checkouts:
        try:
            charge = get_gateway(payment.gateway).lookup(invoice_id=str(payment.public_id))
            billing.payment_apply_result(public_id=payment.public_id, charge=charge, source="checkout")
        except Exception:  # the gateway down, or a result that cannot settle: staff see it elsewhere
            log.exception("checkout: the status of earlier payment %s could not be applied", payment.public_id)
            continue
        if charge.status == ChargeStatus.PENDING:
            return payment
    return None


def still_processing(payment: Payment) -> str:
    """Why a second payment is refused while the bank decides `payment` (checkout, renewal)."""
    return _("Your payment of %(amount)s made at %(time)s is still being processed by the bank. Please wait for its "
             "result (we e-mail you the receipt) before paying again: otherwise both payments may be charged.") % {
        "amount": payment.amount_display,
        "time": formats.date_format(timezone.localtime(payment.created_at), "DATETIME_FORMAT")}


def payment_pages_supersede(customer, *, purpose: str, except_key: str) -> int:
    """A new hosted payment page replaces the customer's earlier ones for the same purpose
    that were opened and not paid (another tab, Back): they expire, and the gateway's check
    refuses paying them, so one purchase or one renewal is charged once. Call after
    `checkout_in_flight` found none the gateway is deciding. Returns how many expired."""
    stale = (Payment.objects.filter(customer=customer, purpose=purpose, method=Payment.Method.CARD,
                                    status=Payment.Status.PENDING)
             .exclude(idempotency_key=except_key).values_list("pk", flat=True))
    return sum(billing.payment_expire(payment_id=pk) for pk in stale)


def term_start_paid(*, payment: Payment) -> Term | None:
    """The handler billing calls when a checkout payment settles (inside its
    transaction, customer and payment already locked): the agreement is concluded
    (acceptance), the subscription starts, access is provisioned."""
    plan = Plan.objects.get(code=payment.purpose_ref)
    if not payment.customer.is_active:
        # The account was deleted (or closed by staff) while this payment was open at the
        # gateway: no agreement, no subscription renewing a card nobody can cancel; the
        # money is returned.
        return _bought_nothing(payment, verb=events.UNAPPLIED_CLOSED_ACCOUNT, data={"plan": plan.code},
                               why=gettext_noop("paid after the customer's account was closed"))
    live = live_subscription(payment.customer)
    if live is not None and payment.method == Payment.Method.BANK_TRANSFER and live.plan_id == plan.pk:
        # A legal entity pays each term by invoice: a transfer for the plan it is on pays
        # the next term (it has no saved card for the automatic charge).
        from .renewals import renewal_by_invoice

        return renewal_by_invoice(payment=payment, subscription=live)
    if live is not None:
        # Two checkouts paid in parallel: keep the money visible, let staff refund it.
        return _bought_nothing(payment, verb=events.DUPLICATE_PURCHASE, data={"plan": plan.code},
                               why=gettext_noop("paid while the customer already had a live subscription"))
    acceptance = offer_services.acceptance_record(
        payment=payment, plan_code=plan.code, plan_name=plan.name, price_minor=payment.amount_minor,
        currency=payment.currency,
    )
    starts_at = payment.paid_at
    subscription = Subscription.objects.create(
        customer=payment.customer, plan=plan, status=Subscription.Status.ACTIVE, auto_renew=True,
        current_period_start=starts_at, current_period_end=term_end(starts_at),
    )
    subscription.next_charge_at = subscription.current_period_end - timezone.timedelta(hours=settings.RENEWAL_LEAD_HOURS)
    subscription.save(update_fields=["next_charge_at"])
    term = _term_create(subscription=subscription, payment=payment, plan=plan, starts_at=starts_at, number=1)
    events.record(verb="subscription.started", subject=subscription, customer=payment.customer,
                  data={"plan": plan.code, "term_start": term.starts_at.isoformat(),
                        "term_end": term.ends_at.isoformat(), "acceptance": acceptance.pk,
                        "payment": str(payment.public_id)})
    return term


def _term_create(*, subscription, payment, plan, starts_at, number) -> Term:
    return terms_create([dict(subscription=subscription, payment=payment, plan=plan,
                              starts_at=starts_at, number=number)])[0]


def terms_create(specs: list[dict]) -> list[Term]:
    """Paid terms (first purchase or renewal), each with its access grant (deadline:
    payment + 30 minutes, clause 5.2; a term paid ahead: its start + 30 minutes) and a
    `term.started` event, written with one INSERT per table; access is provisioned after
    commit (one task per batch). Each spec names subscription, payment, plan, starts_at
    and number."""
    terms = Term.objects.bulk_create([
        Term(subscription=spec["subscription"], payment=spec["payment"], plan=spec["plan"],
             number=spec["number"], starts_at=spec["starts_at"], ends_at=term_end(spec["starts_at"]))
        for spec in specs
    ])
    deadline = timezone.timedelta(minutes=settings.ACCESS_GRANT_DEADLINE_MINUTES)
    grants = AccessGrant.objects.bulk_create([
        # A term paid ahead (a renewal a day before the end) needs its access by its own start.
        AccessGrant(term=term, customer_id=term.subscription.customer_id, requested_at=term.payment.paid_at,
                    deadline_at=max(term.payment.paid_at, term.starts_at) + deadline)
        for term in terms
    ])
    now = timezone.now()
    events.record_many([
        events.build(verb="term.started", subject=term, customer=term.subscription.customer_id,
                     data={"number": term.number, "starts_at": term.starts_at.isoformat(),
                           "ends_at": term.ends_at.isoformat(),
                           # paid ahead: it begins when the term in use ends (the history says so)
                           **({"ahead": True} if term.starts_at > now else {})})
        for term in terms
    ])
    from . import tasks

    enqueue_on_commit(tasks.access_grant, tasks.access_grant_many, [g.pk for g in grants])
    return terms


# A paid payment that bought nothing: a second checkout paid in parallel with the first,
# a renewal charge that arrived for an ended subscription or for a term already paid.
# Staff are alerted, and the apps registered here (refunds: a refund request opened on the
# customer's behalf) are told of it after commit.
_unapplied_handlers: list[Callable[[int], None]] = []


def on_unapplied_payment(handler: Callable[[int], None]) -> None:
    if handler not in _unapplied_handlers:
        _unapplied_handlers.append(handler)


# Automatic renewal turned back on: the apps registered here are told inside that
# transaction, the customer locked (refunds: the customer's open request for the paid-ahead
# term's money back is withdrawn, since that term is kept).
_renewal_resumed_handlers: list[Callable] = []


def on_renewal_resumed(handler: Callable) -> None:
    """`handler(*, subscription, by)`."""
    if handler not in _renewal_resumed_handlers:
        _renewal_resumed_handlers.append(handler)


def _bought_nothing(payment: Payment, *, verb: str, data: dict, why: str, why_params: dict | None = None) -> None:
    """Inside the settlement: `payment` starts no term. The event that marks it (one of
    soldee.events.UNAPPLIED_PAYMENT_VERBS), then after commit the staff alert and the
    listeners (refunds opens its request). `why` is a msgid (gettext_noop, with
    `why_params`), translated with the alert. Returns None: the term the payment did not buy."""
    events.record(verb=verb, subject=payment, customer=payment.customer_id, data=data)
    transaction.on_commit(lambda: _unapplied_payment(payment.pk, why, why_params), robust=True)


def _unapplied_payment(payment_id: int, why: str, why_params: dict | None = None) -> None:
    """After commit: the money came but started no term. Each listener and the alert (a
    task: a slow mail server holds no request) on its own: a broker that is down loses
    nothing for the others, and the refunds sweep finds what a lost message left out, by
    the events that mark it (soldee.events.UNAPPLIED_PAYMENT_VERBS)."""
    for handler in _unapplied_handlers:
        try:
            handler(payment_id)
        except Exception:
            log.exception("unapplied payment %s: handler %r failed", payment_id, handler)
    try:
        payment = Payment.objects.select_related("customer").get(pk=payment_id)
        with staff_language():
            subject = _("A paid payment bought nothing: refund it")
            body = _("Payment %(payment)s (%(amount)s, %(email)s, paid %(paid)s Almaty): %(why)s. It started no "
                     "paid term. A refund request on the ground 'access not granted' will be opened for it "
                     "(admin: Refund requests, search %(payment)s).") % {
                "payment": payment.public_id, "amount": payment.amount_display, "email": payment.customer.email,
                "paid": f"{timezone.localtime(payment.paid_at or payment.created_at):%Y-%m-%d %H:%M}",
                "why": _(why) % why_params if why_params else _(why)}
        staff_alert.delay(subject, body)
    except Exception:
        log.exception("unapplied payment %s: staff alert not sent", payment_id)


def terms_for_receipts(payments: list[Payment]) -> dict[int, dict]:
    """The paid term each payment started (billing.purposes receipt_details): its first
    and last moment, for the receipt (clause 6.3). One query per batch."""
    return {payment_id: {"term_starts_at": start.isoformat(), "term_ends_at": end.isoformat()}
            for payment_id, start, end in Term.objects.filter(payment__in=[p.pk for p in payments])
            .values_list("payment_id", "starts_at", "ends_at")}


# --- Cancellation (clause 6.5) -------------------------------------------------------

def subscription_set_auto_renew(*, subscription_id: int, on: bool, by, notify: bool = True,
                                reason: str = "") -> Subscription:
    """Turn automatic renewal on or off (clause 6.5). `notify=False`: no "renewal is off"
    e-mail, for a caller that tells the customer itself (the next term's refund request).
    Staff acting for the customer (who asked by e-mail or phone) give the `reason`: it is
    the evidence of the customer's wish, above all for renewal on, which charges their card.
    `by=None`: the system (renewal off only; the renewal claim for a customer whose consent
    is withdrawn), with its `reason` recorded."""
    from .renewals import PURPOSE_RENEWAL, renewal_in_flight

    reason = " ".join(reason.split())

    paying_now = None
    if not on:  # before any transaction: asks the gateway about a card payment on the hosted page
        current = Subscription.objects.select_related("customer").get(pk=subscription_id)
        if current.is_live and current.current_period_end <= timezone.now():
            paying_now = checkout_in_flight(current.customer, purpose=PURPOSE_RENEWAL)
    with transaction.atomic():
        customer_id = Subscription.objects.values_list("customer_id", flat=True).get(pk=subscription_id)
        _lock_customer(customer_id)
        subscription = Subscription.objects.select_for_update().get(pk=subscription_id)
        staff = by is not None and by.pk != subscription.customer_id
        if staff and not reason:
            raise CheckoutRefused(_("Give the reason: when and how the customer asked for this change."))
        # Past due after the paid term (its retries still to come), or a renewal deferred
        # past the end for want of an exchange rate: it can still be cancelled (clause 6.5),
        # and as nothing paid is left, it ends now; no retry charges the card afterwards.
        term_over = subscription.current_period_end <= timezone.now()
        if not subscription.is_live or (term_over and (on or not subscription.auto_renew)):
            raise CheckoutRefused(_("This subscription has ended; renewal can no longer be changed."))
        if subscription.auto_renew == on:
            return subscription
        if term_over and (paying_now is not None or renewal_in_flight(subscription)):
            # Ending it now would leave that payment buying nothing.
            raise CheckoutRefused(_("A payment for the next term is being processed right now. Try again later (within "
                                    "an hour at most): if it went through, the new term is yours and renewal can be "
                                    "turned off for the term after; if not, the subscription can be ended."))
        if on and refunded_ahead(subscription):
            raise CheckoutRefused(_refunded_ahead_refusal(subscription, staff=staff))
        if on and full_refund_on_its_way(subscription):
            # Off since the refund's approval (refunds.services._stop_renewal_for_full_refund): a
            # renewal now would charge the customer being refunded and pay a later term, and
            # the refunded term in use would then keep its access (refund_outcome: LATER_PAID).
            raise CheckoutRefused(
                _("Renewal cannot be turned back on: a full refund of the customer's payment is on its way, and the "
                  "subscription ends when the money is paid back. Nothing was changed.") if staff
                else _("A full refund of your payment is on its way: the subscription ends when the money is paid "
                       "back, so renewal cannot be turned back on. You can buy a plan again after that."))
        if on and consent_withdrawn(subscription.customer):
            # A renewal is a purchase of the next term: like checkout, it needs the consent
            # that withdrawing it turned renewal off for (personal_data.consent_withdraw).
            raise CheckoutRefused(
                _("The customer withdrew consent to the processing of personal data, which turned renewal off. "
                  "It can go back on once they give consent again on the “Your personal data” page.") if staff
                else _("You withdrew your consent to the processing of your personal data. Give it again on the "
                       "“Your personal data” page to turn renewal back on."))
        if on:
            for handler in _renewal_resumed_handlers:
                handler(subscription=subscription, by=by)
        _renewal_switch(subscription, on=on, by=by,
                        actor_kind=Event.ActorKind.STAFF if staff else Event.ActorKind.CUSTOMER if by is not None
                        else Event.ActorKind.SYSTEM, reason=reason if staff or by is None else "")
        from . import tasks

        template = "emails/renewal_resumed" if on else "emails/renewal_cancelled"
        if term_over:
            subscription = subscription_end(subscription_id=subscription.pk, reason=Subscription.EndReason.CANCELLED,
                                            by=by if staff else None)
            template = "emails/subscription_ended"
        if notify or term_over:
            transaction.on_commit(lambda: tasks.subscription_email.delay(subscription.pk, template))
    return subscription


# --- Access to the AI agent (clauses 4, 5.2) -----------------------------------------

def access_provision(*, grant_id: int) -> AccessGrant:
    """Grant access for a term: tell the platform (outside any transaction), then
    record the grant. Raises PlatformError for the task to retry."""
    grant = AccessGrant.objects.select_related("term__plan", "customer").get(pk=grant_id)
    if grant.status != AccessGrant.Status.PENDING:
        return grant
    AccessGrant.objects.filter(pk=grant.pk).update(attempts=grant.attempts + 1)
    reference = "local"
    if agent_platform.is_configured():
        try:
            reference = agent_platform.send(
                action="grant", customer_ref=str(grant.customer.public_id),
                plan_code=grant.term.plan.code, until=grant.term.ends_at.isoformat(),
                idempotency_key=grant.idempotency_key,
                extra={"subscription": grant.term.subscription_id, "term": grant.term.number,
                       "starts": grant.term.starts_at.isoformat()},
            )
        except agent_platform.PlatformError as exc:
            AccessGrant.objects.filter(pk=grant.pk).update(last_error=str(exc)[:2000])
            raise
    return access_mark_granted(grant_id=grant.pk, platform_ref=reference or "platform")


def access_mark_granted(*, grant_id: int, platform_ref: str) -> AccessGrant:
    with transaction.atomic():
        grant = AccessGrant.objects.select_for_update().get(pk=grant_id)
        if grant.status == AccessGrant.Status.REVOKED and platform_ref != "local":
            # Revoked (a refund, a lapse) while our grant was on its way to the platform: the
            # revoke may have reached it first, leaving "granted" as its last word. Say it again.
            from . import tasks

            transaction.on_commit(lambda: tasks.access_revoke_notify.delay(grant.pk, after_grant=True), robust=True)
            return grant
        if grant.status != AccessGrant.Status.PENDING:
            return grant
        grant.status = AccessGrant.Status.GRANTED
        grant.granted_at = timezone.now()
        grant.platform_ref = platform_ref
        grant.last_error = ""
        grant.save()
        events.record(verb="access.granted", subject=grant, customer=grant.customer,
                      data={"term": grant.term_id, "granted_at": grant.granted_at.isoformat(),
                            "on_time": grant.granted_on_time,
                            "minutes_after_payment": round(
                                (grant.granted_at - grant.requested_at).total_seconds() / 60, 1)})
        if not grant.granted_on_time:
            # Granted, but after the deadline (a payment settled late: a delayed webhook, a late
            # return): a breach all the same, which the sweep of pending grants never sees.
            access_flag_breach(grant_id=grant.pk)
    return grant


def access_flag_breach(*, grant_id: int) -> bool:
    """The 30-minute deadline passed without access: record the breach (it grounds a
    refund under clause 7) and alert staff. Once per grant."""
    with transaction.atomic():
        grant = AccessGrant.objects.select_for_update().get(pk=grant_id)
        if grant.breached_at is not None:
            return False
        now = timezone.now()
        late = (grant.status == AccessGrant.Status.PENDING and grant.deadline_at < now) or (
            grant.granted_at is not None and grant.granted_at > grant.deadline_at
        )
        if not late:
            return False
        grant.breached_at = now
        grant.save(update_fields=["breached_at"])
        events.record(verb="access.deadline_missed", subject=grant, customer=grant.customer,
                      data={"deadline_at": grant.deadline_at.isoformat(), "status": grant.status})
        from . import tasks

        transaction.on_commit(lambda: tasks.access_breach_alert.delay(grant.pk), robust=True)
    return True


def grace(subscription: Subscription) -> timezone.timedelta:
    """How long access runs on after the paid term while its renewal is past due
    (RENEWAL_GRACE_DAYS, default none). The one reading for the platform, the account and
    the e-mails."""
    if subscription.status == Subscription.Status.PAST_DUE:
        return timezone.timedelta(days=settings.RENEWAL_GRACE_DAYS)
    return timezone.timedelta(0)


def terms_in_force(subscription: Subscription, *, now=None):
    """The paid terms giving access now, newest first: begun, and not over (the grace of a
    past-due renewal included). A renewal paid ahead is not among them until it begins: the
    first is the term in use."""
    now = now or timezone.now()
    return Term.objects.filter(subscription=subscription, starts_at__lte=now,
                               ends_at__gt=now - grace(subscription)).order_by("-starts_at")


def terms_in_use(*, now=None):
    """`terms_in_force` as a subquery of a Subscription queryset (its row is OuterRef "pk"),
    the term in use first: a list annotates each row with its term in use in its own query
    (the admin's subscriptions list shows it and sorts by it). The same rule: begun, and not
    over with the grace of a past-due renewal (`grace`)."""
    now = now or timezone.now()
    past_due_grace = timezone.timedelta(days=settings.RENEWAL_GRACE_DAYS)
    return (Term.objects.filter(subscription=OuterRef("pk"), starts_at__lte=now)
            .filter(Q(ends_at__gt=now) | Q(subscription__status=Subscription.Status.PAST_DUE,
                                          ends_at__gt=now - past_due_grace))
            .order_by("-starts_at"))


def access_until(subscription: Subscription):
    """When access ends unless a payment goes through: the paid term's end, and the grace."""
    return subscription.current_period_end + grace(subscription)


def entitlement(customer) -> dict:
    """What the agent platform asks: is this customer entitled now, to which plan, until when."""
    now = timezone.now()
    subscription = live_subscription(customer)
    term = None
    if subscription is not None:
        term = (terms_in_force(subscription, now=now).filter(access_grant__status=AccessGrant.Status.GRANTED)
                .select_related("plan").first())
    return {
        "customer": str(customer.public_id),
        "entitled": term is not None,
        "plan": term.plan.code if term else None,
        "until": access_until(subscription).isoformat() if term else None,
    }


class RefundOutcome:
    """What refunding a term's payment in full does to its subscription (`refund_outcome`)."""

    ENDED = "ended"  # the subscription is over already
    LATER_PAID = "later_paid"  # a later term is paid (and not refunded): it goes on
    TERM_CANCELLED = "term_cancelled"  # a term not started: only it is undone; the term in use runs to its end
    ENDS_NOW = "ends_now"  # the subscription ends now, access revoked


def refund_outcome(term: Term, *, subscription: Subscription | None = None, now=None) -> tuple[str, Term | None]:
    """The one rule for a full refund of `term`'s payment (clause 7), used to apply it
    (term_refunded) and to tell staff and the customer beforehand: (RefundOutcome, the term
    in use that keeps its access, for TERM_CANCELLED). Terms refunded in full do not count
    as paid."""
    now = now or timezone.now()
    subscription = subscription or term.subscription
    if not subscription.is_live:
        return RefundOutcome.ENDED, None
    if Term.objects.filter(subscription=subscription, starts_at__gt=term.starts_at).not_refunded().exists():
        return RefundOutcome.LATER_PAID, None
    if term.starts_at > now:
        in_use = (Term.objects.filter(subscription=subscription, starts_at__lt=term.starts_at).not_refunded()
                  .order_by("-starts_at").first())
        if in_use is not None and in_use.ends_at > now:
            return RefundOutcome.TERM_CANCELLED, in_use
    return RefundOutcome.ENDS_NOW, None


def term_refunded(*, term: Term, by=None) -> Subscription:
    """A paid term whose payment was refunded in full (clause 7), applied by `refund_outcome`.
    Call inside a transaction that has locked the customer.
    - A later term is paid: nothing changes.
    - The term has started (the term in use): the subscription ends now, access revoked.
    - It has not started yet (a renewal or an invoice paid ahead): only that term is undone.
      The term in use keeps its access to its end, then the subscription ends; automatic
      renewal is off and cannot be turned back on (the customer buys again after the end)."""
    subscription = Subscription.objects.select_for_update().get(pk=term.subscription_id)
    now = timezone.now()
    outcome, in_use = refund_outcome(term, subscription=subscription, now=now)
    if outcome in (RefundOutcome.ENDED, RefundOutcome.LATER_PAID):
        return subscription
    if outcome == RefundOutcome.ENDS_NOW:
        return subscription_end(subscription_id=subscription.pk, reason=Subscription.EndReason.REFUNDED, by=by)
    subscription.current_period_start, subscription.current_period_end = in_use.starts_at, in_use.ends_at
    subscription.auto_renew, subscription.next_charge_at = False, None
    subscription.save()
    events.record(verb="subscription.next_term_refunded", subject=subscription, customer=subscription.customer,
                  actor=by, actor_kind=Event.ActorKind.STAFF if by else Event.ActorKind.SYSTEM,
                  data={"term": term.number, "access_until": in_use.ends_at.isoformat()})
    grants = list(AccessGrant.objects.select_for_update().filter(
        term=term, status__in=[AccessGrant.Status.PENDING, AccessGrant.Status.GRANTED]))
    for grant in grants:
        grant.status, grant.revoked_at = AccessGrant.Status.REVOKED, now
        grant.save(update_fields=["status", "revoked_at"])
        events.record(verb="access.revoked", subject=grant, customer=subscription.customer,
                      data={"reason": Subscription.EndReason.REFUNDED, "term": term.number, "next_term": True})
    if grants:
        from . import tasks

        ids = [g.pk for g in grants]
        transaction.on_commit(lambda: [tasks.access_revoke_notify.delay(pk) for pk in ids], robust=True)
    return subscription


def paid_ahead_term(subscription: Subscription, *, now=None) -> Term | None:
    """The term a renewal already paid that has not begun (the saved card is charged
    RENEWAL_LEAD_HOURS before the term in use ends), not refunded; or None."""
    now = now or timezone.now()
    return (Term.objects.filter(subscription=subscription, starts_at__gt=now).not_refunded()
            .select_related("payment").order_by("starts_at").first())


# A refund approved and its money not back yet (refunds.models.Refund.Status: pending,
# executing, failed and to be retried or paid back by bank transfer, to be paid back by
# bank transfer). The refunds app is not imported: its rows are read through Payment.refunds.
REFUND_ON_ITS_WAY_STATUSES = ("pending", "executing", "failed", "to_transfer")


def full_refund_on_its_way(subscription: Subscription) -> bool:
    """A full refund approved and not yet paid back that will end `subscription` when it is
    (refund_outcome ENDS_NOW): renewal stays off meanwhile (renewal_stop_for_refund)."""
    terms = Term.objects.filter(subscription=subscription, payment__refunds__is_full=True,
                                payment__refunds__status__in=REFUND_ON_ITS_WAY_STATUSES).distinct()
    return any(refund_outcome(term, subscription=subscription)[0] == RefundOutcome.ENDS_NOW for term in terms)


def renewal_stop_for_refund(*, subscription_id: int, by, reason: str) -> bool:
    """A full refund that will end the subscription is approved; the subscription ends when
    the money is back, which may take days (refunds.services._stop_renewal_for_full_refund):
    no renewal may charge the card meanwhile. Inside the
    caller's transaction, the customer locked; no e-mail (the refund's tell the customer)
    and no gateway call. Returns whether renewal was on."""
    subscription = Subscription.objects.select_for_update().get(pk=subscription_id)
    if not subscription.is_live or not subscription.auto_renew:
        return False
    _renewal_switch(subscription, on=False, by=by,
                    actor_kind=Event.ActorKind.STAFF if by else Event.ActorKind.SYSTEM, reason=reason)
    return True


def _renewal_switch(subscription: Subscription, *, on: bool, by, actor_kind: str, reason: str) -> None:
    """Subscription row locked: automatic renewal on (the normal schedule; a past-due one
    keeps its retry date) or off (nothing to charge), and its event."""
    subscription.auto_renew = on
    subscription.next_charge_at = (subscription.next_charge_at or max(
        timezone.now(), subscription.current_period_end - timezone.timedelta(hours=settings.RENEWAL_LEAD_HOURS))
    ) if on else None
    subscription.save(update_fields=["auto_renew", "next_charge_at", "updated_at"])
    events.record(
        verb="subscription.renewal_resumed" if on else "subscription.renewal_cancelled",
        subject=subscription, customer=subscription.customer_id, actor=by, actor_kind=actor_kind,
        data={"access_until": subscription.current_period_end.isoformat(), **({"reason": reason} if reason else {})},
    )


def _refunded_ahead_terms(subscription: Subscription):
    return Term.objects.filter(subscription=subscription, starts_at__gte=subscription.current_period_end)


def refunded_ahead(subscription: Subscription) -> bool:
    """The subscription's next term was paid and then refunded (see term_refunded): it
    runs to the end of its current term and ends."""
    return _refunded_ahead_terms(subscription).exists()


def _refunded_ahead_refusal(subscription: Subscription, *, staff: bool) -> str:
    """Why renewal cannot be turned back on after the next term was refunded: to the
    customer (their account), or to staff acting for them (what happened, what is left)."""
    ends = formats.date_format(timezone.localtime(subscription.current_period_end), "DATETIME_FORMAT")
    if not staff:
        return _("The next term of this subscription was refunded, so it ends on %(date)s. You can buy a plan again "
                 "after that.") % {"date": ends}
    term = _refunded_ahead_terms(subscription).select_related("payment").order_by("starts_at").first()
    return _("Renewal cannot be turned back on: the payment for the next term (%(payment)s) was refunded, which "
             "cancelled that term, so the subscription ends with the term in use on %(date)s and no card is charged "
             "again. Nothing was changed. If the customer wants to go on, they buy a plan again in their account "
             "once it has ended.") % {"payment": term.payment.public_id, "date": ends}


def subscription_end(*, subscription_id: int, reason: str, by=None) -> Subscription:
    """End a subscription now (a full refund, a lapse): access for its current term is
    revoked. Call inside a transaction that has locked the customer."""
    subscription = Subscription.objects.select_for_update().get(pk=subscription_id)
    if not subscription.is_live:
        return subscription
    now = timezone.now()
    subscription.status = Subscription.Status.ENDED
    subscription.end_reason = reason
    subscription.ended_at = now
    subscription.auto_renew = False
    subscription.next_charge_at = None  # nothing is charged again: staff lists of upcoming charges skip it
    if subscription.current_period_end > now:
        subscription.current_period_end = max(now, subscription.current_period_start + timezone.timedelta(seconds=1))
    subscription.save()
    events.record(verb="subscription.ended", subject=subscription, customer=subscription.customer,
                  actor=by, actor_kind=Event.ActorKind.STAFF if by else Event.ActorKind.SYSTEM,
                  data={"reason": reason})
    grants = list(AccessGrant.objects.select_for_update().filter(
        term__subscription=subscription, status__in=[AccessGrant.Status.PENDING, AccessGrant.Status.GRANTED]))
    for grant in grants:
        grant.status = AccessGrant.Status.REVOKED
        grant.revoked_at = now
        grant.save(update_fields=["status", "revoked_at"])
        events.record(verb="access.revoked", subject=grant, customer=subscription.customer,
                      data={"reason": reason})
    if grants:
        from . import tasks

        ids = [g.pk for g in grants]
        transaction.on_commit(lambda: [tasks.access_revoke_notify.delay(pk) for pk in ids])
    return subscription
