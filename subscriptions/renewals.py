"""Automatic renewal (clauses 6.3-6.5): the sweeper, the charge, the outcome, the lapse.

How one renewal goes, safe to run twice or concurrently:
1. `renewals_claim` — in ONE short transaction, lock a batch of due subscriptions with
   SELECT ... FOR NO KEY UPDATE SKIP LOCKED (rows another sweeper holds are skipped this tick),
   create for each a RenewalAttempt + a `processing` Payment with a fixed idempotency key
   `renewal:<subscription>:<term>:<try>`, clear `next_charge_at`, commit.
   The unique (subscription, term_number, attempt_no) guards the term.
2. `renewal_charge` — outside any transaction, charge the saved token at the gateway with
   that key (the gateway de-duplicates on it), in a thread pool so gateway waits overlap.
3. The approved charges of the batch settle together in ONE transaction through
   billing.services.payments_settle → the purpose handler `renewals_paid` — the same
   post-payment path as the first purchase (term, access, receipt, events), rows written in
   bulk; declines go one by one through payment_fail → `renewal_declined`.
4. A crash or timeout between 2 and 3 leaves the payment `processing`: `renewals_reconcile`
   asks the gateway by invoice id and applies the answer; a charge that never reached the
   gateway is sent again with the SAME key.
"""

from __future__ import annotations

import logging
from datetime import timedelta

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Max, OuterRef, Q, Subquery
from django.utils import formats, timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, gettext_noop

from accounts.personal_data import consent_withdrawn, consent_withdrawn_condition
from billing import exchange
from billing import services as billing
from billing.gateways import ChargeResult, ChargeStatus, GatewayError, get_gateway
from billing.models import Payment, PaymentMethod
from offer import services as offer_services
from offer.models import Acceptance
from plans.models import Plan
from soldee import events
from soldee.bulk import rows_update
from soldee.models import Event
from soldee.staff_language import staff_language

from .models import (
    LIVE_STATUSES,
    NO_SAVED_CARD,
    RENEWAL_OFF,
    TERM_PAID,
    RenewalAttempt,
    Subscription,
    Term,
)
from .terms import renewal_term_start

log = logging.getLogger(__name__)

PURPOSE_RENEWAL = "subscription.renewal"
# The tries that charge the saved card from our side: the reconciliation sweep resolves them.
RECONCILED_KINDS = (RenewalAttempt.Kind.AUTOMATIC, RenewalAttempt.Kind.STAFF)


def renewal_in_flight(sub: Subscription, *, now=None) -> bool:
    """Our own charge of the saved card for the next term (automatic, or staff's extra try)
    whose outcome is not known yet, started within CHECKOUT_IN_FLIGHT_MINUTES: reconciliation
    settles it within minutes; one still unknown after that (the gateway not answering) no
    longer holds anything up, and a success arriving later is refunded as a payment that
    bought nothing. The customer's own card payment on the hosted page is asked of the
    gateway instead (services.checkout_in_flight)."""
    now = now or timezone.now()
    recent = now - timedelta(minutes=settings.CHECKOUT_IN_FLIGHT_MINUTES)
    return RenewalAttempt.objects.filter(subscription=sub, status__in=RenewalAttempt.IN_FLIGHT,
                                         kind__in=RECONCILED_KINDS, created_at__gte=recent).exists()


def lead() -> timedelta:
    return timedelta(hours=settings.RENEWAL_LEAD_HOURS)


def next_charge_for(subscription: Subscription):
    return subscription.current_period_end - lead() if subscription.auto_renew else None


# --- 1. Claim ----------------------------------------------------------------------

def renewals_claim(*, now=None, limit: int | None = None, subscription_ids: list[int] | None = None,
                   kind: str = RenewalAttempt.Kind.AUTOMATIC) -> list[int]:
    """Claim due subscriptions (of `subscription_ids` only, when given) and record the
    intent to charge, as tries of `kind`. Returns attempt ids."""
    now = now or timezone.now()
    limit = limit or settings.RENEWAL_BATCH_SIZE
    with transaction.atomic():
        # Lock ids only: the next `limit` in next_charge_at order, read by that index. With the
        # customer, profile and plan joined in, PostgreSQL built and sorted every due row
        # (20,000 wide rows per claim at scale) before taking the first `limit`.
        due = Subscription.objects.select_for_update(skip_locked=True, no_key=True).filter(
            status__in=LIVE_STATUSES, auto_renew=True, next_charge_at__lte=now)
        if subscription_ids is not None:
            due = due.filter(pk__in=subscription_ids)
        locked = list(
            due.exclude(renewal_attempts__status__in=RenewalAttempt.IN_FLIGHT)
            .order_by("next_charge_at").values_list("pk", flat=True)[:limit]
        )
        if not locked:
            return []
        # Whether each customer has withdrawn consent, read in this same query (no query per row).
        subs = list(Subscription.objects.filter(pk__in=locked).select_related("plan", "customer", "customer__profile")
                    .annotate(consent_withdrawn=consent_withdrawn_condition()).order_by("next_charge_at", "pk"))
        ids = [s.pk for s in subs]
        customer_ids = [s.customer_id for s in subs]
        cards = {}
        for card in PaymentMethod.objects.filter(customer_id__in=customer_ids, is_active=True).order_by("created_at"):
            cards[card.customer_id] = card  # the newest active card wins
        last_term = dict(Term.objects.filter(subscription_id__in=ids).values_list("subscription")
                         .annotate(n=Max("number")))
        last_try = {(r["subscription"], r["term_number"]): r["n"] for r in RenewalAttempt.objects.filter(
            subscription_id__in=ids).values("subscription", "term_number").annotate(n=Max("attempt_no"))}
        pinned = [offer_services.pin(d) for d in offer_services.documents_in_force().values()]
        payments, plans, deferred, no_consent = [], [], [], []
        for sub in subs:
            if sub.consent_withdrawn:  # a renewal is a purchase: not without the consent (see _renewal_off_no_consent)
                no_consent.append(sub.pk)
                continue
            try:
                conversion = exchange.conversion_for(customer=sub.customer, kzt_amount_minor=sub.renewal_price_minor,
                                                     on=now, profile=getattr(sub.customer, "profile", None))
            except exchange.RateUnavailable as exc:
                deferred.append((sub, str(exc), isinstance(exc, exchange.CurrencyNotChosen)))
                continue
            term_number = last_term.get(sub.pk, 0) + 1
            attempt_no = last_try.get((sub.pk, term_number), 0) + 1
            card = cards.get(sub.customer_id)
            payments.append(Payment(
                customer=sub.customer, purpose=PURPOSE_RENEWAL, purpose_ref=str(sub.pk),
                description=f"Soldee — {sub.plan.name}, 30 days (renewal)",
                amount_minor=conversion.amount_minor, currency=conversion.currency,
                kzt_amount_minor=conversion.kzt_amount_minor, exchange_rate=conversion.rate,
                exchange_rate_date=conversion.rate_date, exchange_rate_source=conversion.source,
                idempotency_key=f"renewal:{sub.pk}:{term_number}:{attempt_no}",
                gateway=card.gateway if card else settings.PAYMENT_GATEWAY,
                payment_method=card, card_mask=card.card_mask if card else "",
                status=Payment.Status.PROCESSING, method=Payment.Method.SAVED_CARD,
                pinned_documents=pinned,
            ))
            plans.append((sub, term_number, attempt_no))
        Payment.objects.bulk_create(payments)
        attempts = RenewalAttempt.objects.bulk_create([
            RenewalAttempt(subscription=sub, term_number=term, attempt_no=try_no, payment=payment, kind=kind)
            for (sub, term, try_no), payment in zip(plans, payments, strict=True)
        ])
        Subscription.objects.filter(pk__in=[s.pk for s, _t, _n in plans]).update(next_charge_at=None, updated_at=now)
        Event.objects.bulk_create([
            Event(verb="renewal.charge_started", actor_kind=Event.ActorKind.SYSTEM, customer_id=sub.customer_id,
                  subject_type="subscriptions.subscription", subject_id=str(sub.pk),
                  data={"term": term, "try": try_no, "amount_minor": p.amount_minor, "currency": p.currency,
                        "payment": str(p.public_id), "card": p.payment_method_id is not None})
            for (sub, term, try_no), p in zip(plans, payments, strict=True)
        ])
        if no_consent:  # not due again for an hour: a refusal below does not bring it back to every sweep
            Subscription.objects.filter(pk__in=no_consent).update(next_charge_at=now + timedelta(hours=1),
                                                                   updated_at=now)
        for sub, reason, no_currency in deferred:  # no usable exchange rate: try again in an hour
            _renewal_deferred(sub, reason=reason, no_currency=no_currency, now=now)
        overdue = [sub.pk for sub, _r, _c in deferred if sub.lapses_at is not None and sub.lapses_at <= now]
        if deferred:  # once a day, as the rates import's own alerts (a sweep runs every minute)
            no_currency = [sub.customer.email for sub, _r, no_currency in deferred if no_currency]
            no_rate = len(no_currency) < len(deferred)
            with staff_language():
                subject = _("Renewals deferred: no usable exchange rate")
                body = _("Renewals of non-residents are deferred an hour at a time; the events 'renewal.deferred' "
                         "name the subscriptions.")
                if no_rate:
                    body += "\n\n" + _("There is no usable NBK rate for their currency: import the rates "
                                        "(manage.py import_rates) or enter them in the admin.")
                if no_currency:
                    body += "\n\n" + _("The customer's profile names no currency the portal offers "
                                        "(NONRESIDENT_CURRENCIES): correct their payment currency in the admin "
                                        "(Customer profiles).") + " " + ", ".join(no_currency[:20])
            transaction.on_commit(lambda: exchange.alert_staff(
                subject=subject, body=body,
                problem=f"renewals-deferred:{no_rate}:{bool(no_currency)}"), robust=True)  # once a day per cause
    for pk in overdue:  # each in its own transaction, the customer locked first as every service does
        try:
            _deferred_lapse(pk, now=now)
        except Exception:  # one that fails must not keep the claimed batch from its charges
            log.exception("deferred renewal of subscription %s not lapsed", pk)
    for pk in no_consent:  # likewise
        _renewal_off_no_consent(pk)
    return [a.pk for a in attempts]


CONSENT_WITHDRAWN_REASON = "the customer's consent to the processing of personal data is withdrawn"
# Staff's "retry now" for such a customer (renewal_retry_now), and its confirmation.
CONSENT_WITHDRAWN_STAFF_REFUSAL = gettext_lazy(
    "Not charged: the customer has withdrawn consent to the processing of personal data, and a renewal is a "
    "purchase that needs it. The renewal sweep does not charge it either and turns its renewal off; it can be "
    "charged once the customer gives consent again on the “Your personal data” page.")


def _renewal_off_no_consent(subscription_id: int) -> None:
    """The claim found renewal still on although the customer has withdrawn consent (left on
    by a path other than personal_data.consent_withdraw, which turns it off, or by a withdrawal
    made before it did): not charged, and renewal turned off as that withdrawal would have,
    through the customer's renewal-off service (event subscription.renewal_cancelled with the
    system as actor, the "renewal is off" e-mail; a term already over ends now). Outside the
    claim's transaction: that service locks the customer before the subscription (the claim
    holds the subscription's row only) and, for a term already over, asks the gateway first.
    Refused (a payment of the next term being decided), the claim tries again in an hour."""
    from .services import CheckoutRefused, subscription_set_auto_renew

    sub = Subscription.objects.select_related("customer").get(pk=subscription_id)
    if not consent_withdrawn(sub.customer):  # given again meanwhile: the next claim charges it
        return
    try:
        subscription_set_auto_renew(subscription_id=subscription_id, on=False, by=None,
                                    reason=CONSENT_WITHDRAWN_REASON)
    except CheckoutRefused as exc:
        log.warning("renewal of subscription %s (consent withdrawn) not turned off now: %s", subscription_id, exc)
    except Exception:  # one that fails must not keep the claimed batch from its charges
        log.exception("renewal of subscription %s (consent withdrawn) not turned off", subscription_id)


def _deferred_lapse(subscription_id: int, *, now) -> None:
    """Past due, and its renewal still deferred when the last retry of a declined one would
    have been made (`lapses_at`): it lapses like a declined one, access revoked, the customer
    told, instead of being charged whenever a rate or a currency turns up."""
    from . import tasks
    from .services import _lock_customer, subscription_end

    customer_id = Subscription.objects.values_list("customer_id", flat=True).get(pk=subscription_id)
    with transaction.atomic():
        _lock_customer(customer_id)
        sub = Subscription.objects.select_for_update().get(pk=subscription_id)
        if (sub.status != Subscription.Status.PAST_DUE or not sub.auto_renew or sub.lapses_at is None
                or sub.lapses_at > now or sub.renewal_attempts.filter(status__in=RenewalAttempt.IN_FLIGHT).exists()):
            return  # paid, cancelled or being charged meanwhile
        events.record(verb="renewal.failed", subject=sub, customer=sub.customer,
                      data={"reason": "deferred: no usable exchange rate or payment currency", "next_retry_at": None})
        subscription_end(subscription_id=sub.pk, reason=Subscription.EndReason.LAPSED)
        # robust: a broker refusing the e-mail must not fail the claim that called this
        transaction.on_commit(lambda: tasks.subscription_email.delay(sub.pk, "emails/subscription_lapsed"),
                              robust=True)


DEFERRAL_NOTICE = "renewal.deferral_notice"  # the customer was told, once per term and cause


def _renewal_deferred(sub: Subscription, *, reason: str, no_currency: bool, now) -> None:
    """A renewal that cannot be charged now for want of an exchange rate or of the
    customer's payment currency (row locked by the claim): tried again in an hour. The
    customer is told once per term, never per hourly try:
    - no currency chosen (theirs to fix): at the first deferral of the term, with the link
      to choose it (`emails/renewal_currency_needed`);
    - the term over and still not charged (either cause): the subscription goes past due as
      a declined renewal does (access for the grace, the pay page, the lapse date), and they
      are told why (`emails/renewal_deferred`);
    - still not charged when the last retry of a declined renewal would have been made
      (`lapses_at`): it lapses like one (`emails/subscription_lapsed`), rather than being
      charged weeks later for a term nobody told them of."""
    from . import tasks

    cause = "currency" if no_currency else "rate"
    term_end = sub.current_period_end.isoformat()
    data = {"reason": reason, "cause": cause, "term_end": term_end}
    sub.next_charge_at = now + timedelta(hours=1)
    template = None
    if sub.status == Subscription.Status.ACTIVE and sub.current_period_end <= now:
        sub.status = Subscription.Status.PAST_DUE
        sub.first_failed_at = sub.first_failed_at or now
        data["past_due"] = True
        template = "emails/renewal_deferred"
    elif no_currency and not Event.objects.filter(
            verb=DEFERRAL_NOTICE, subject_type="subscriptions.subscription", subject_id=str(sub.pk),
            data__term_end=term_end, data__cause=cause).exists():
        template = "emails/renewal_currency_needed"
    sub.save(update_fields=["next_charge_at", "status", "first_failed_at", "updated_at"])
    events.record(verb="renewal.deferred", subject=sub, customer=sub.customer, data=data)
    if template is not None:
        events.record(verb=DEFERRAL_NOTICE, subject=sub, customer=sub.customer,
                      data={"term_end": term_end, "cause": cause, "template": template})
        # robust, in the claim's transaction: a broker refusing one notice must not fail the
        # claim after its commit (the batch's attempts would go uncharged until reconciliation)
        # nor drop the callbacks queued after it
        transaction.on_commit(lambda: tasks.subscription_email.delay(sub.pk, template), robust=True)


# --- 2. Charge, 3. settle -------------------------------------------------------------

def renewal_charge(*, attempt_id: int) -> str:
    """Charge one claimed attempt and apply the outcome. Returns the attempt's status."""
    renewals_charge([attempt_id])
    return RenewalAttempt.objects.values_list("status", flat=True).get(pk=attempt_id)


def renewals_charge(attempt_ids: list[int]) -> dict[str, int]:
    """Charge a claimed batch at the gateway — no transaction open, calls in a thread pool
    so gateway waits overlap — then settle what the gateway approved in ONE transaction
    (billing.services.payments_settle, the post-payment path of every purchase). Declines
    go through payment_fail one by one (they are few); an unknown outcome is left to the
    reconciliation sweep. Returns how many attempts ended in each status."""
    attempts = list(RenewalAttempt.objects.filter(pk__in=attempt_ids)
                    .select_related("payment__payment_method", "payment__customer", "subscription"))
    todo = [a for a in attempts if a.payment.status == Payment.Status.PROCESSING]
    outcomes = _gateway_charges(todo)
    approved = [(a.payment.public_id, c) for a, c in outcomes
                if isinstance(c, ChargeResult) and c.status == ChargeStatus.APPROVED]
    if approved:
        try:
            billing.payments_settle(results=approved, source="renewal")
        except Exception:
            # Nothing of the batch was written. Settle its payments one by one now, so one
            # bad row keeps only itself `charging` (reconciliation retries it later).
            log.exception("settling a batch of %s renewals failed; settling them one by one", len(approved))
            for public_id, charge in approved:
                try:
                    billing.payment_settle(public_id=public_id, charge=charge, source="renewal")
                except Exception:
                    log.exception("renewal payment %s not settled; reconciliation will retry", public_id)
    for attempt, charge in outcomes:
        if isinstance(charge, GatewayError):  # outcome unknown: the reconciliation sweep decides
            # Only while nothing decided it: the gateway's notification may have settled the
            # payment (and the attempt) meanwhile; "unknown" over that would stall the
            # subscription for good (reconciliation looks only at processing payments).
            RenewalAttempt.objects.filter(
                pk=attempt.pk, status=RenewalAttempt.Status.CHARGING, payment__status=Payment.Status.PROCESSING,
            ).update(status=RenewalAttempt.Status.UNKNOWN, error=str(charge)[:255])
            log.warning("renewal charge %s outcome unknown: %s", attempt.payment.idempotency_key, charge)
        elif isinstance(charge, ChargeResult) and charge.status != ChargeStatus.APPROVED:
            try:
                billing.payment_apply_result(public_id=attempt.payment.public_id, charge=charge, source="renewal")
            except Exception:
                log.exception("renewal attempt %s: applying the decline failed", attempt.pk)
    counts: dict[str, int] = {}
    for status in RenewalAttempt.objects.filter(pk__in=attempt_ids).values_list("status", flat=True):
        key = "error" if status == RenewalAttempt.Status.CHARGING else str(status)
        counts[key] = counts.get(key, 0) + 1
    return counts


def _gateway_charges(attempts: list[RenewalAttempt]) -> list[tuple[RenewalAttempt, ChargeResult | Exception]]:
    """The gateway calls of a batch: each attempt's saved token charged with its payment's
    idempotency key, through the gateway's batch call (waits overlap in threads)."""
    # Other threads have their own connections: they could not see rows of a transaction
    # still open here, and SQLite allows one writer anyway, so those cases run serially.
    parallel_ok = connection.vendor != "sqlite" and not connection.in_atomic_block
    threads = settings.RENEWAL_CHARGE_THREADS if parallel_ok else 1
    outcomes: dict[int, ChargeResult | Exception] = {}
    by_gateway: dict[str, list[RenewalAttempt]] = {}
    paid_terms = set(Term.objects.filter(subscription_id__in={a.subscription_id for a in attempts})
                     .values_list("subscription_id", "number"))
    for attempt in attempts:
        sub = attempt.subscription
        if (attempt.subscription_id, attempt.term_number) in paid_terms:
            # Paid another way since the claim (the customer's own card, an invoice) — above
            # all when reconciliation re-sends a charge that never reached the gateway.
            outcomes[attempt.pk] = ChargeResult(status=ChargeStatus.DECLINED, failure_code=TERM_PAID,
                                                failure_message=gettext_noop("The term is already paid"))
        elif attempt.kind in RECONCILED_KINDS and (not sub.is_live or not sub.auto_renew):
            # Renewal turned off (or the subscription ended) since the claim, or while a
            # charge that never reached the gateway waited for reconciliation: not charged.
            outcomes[attempt.pk] = ChargeResult(status=ChargeStatus.DECLINED, failure_code=RENEWAL_OFF,
                                                failure_message=gettext_noop("Renewal was turned off"))
        elif attempt.payment.payment_method is None:
            outcomes[attempt.pk] = ChargeResult(status=ChargeStatus.DECLINED, failure_code=NO_SAVED_CARD,
                                                failure_message=gettext_noop("No saved card"))
        else:
            by_gateway.setdefault(attempt.payment.gateway, []).append(attempt)
    for name, group in by_gateway.items():
        try:
            gateway = get_gateway(name)
            answers = gateway.charge_tokens(
                [(billing.payment_request(a.payment), a.payment.payment_method.token) for a in group], threads=threads)
        except Exception as exc:  # a bug before any call: the group stays `charging`, reconciliation retries
            log.exception("renewal charges at %s failed", name)
            answers = [exc] * len(group)
        outcomes.update((a.pk, answer) for a, answer in zip(group, answers, strict=True))
    return [(a, outcomes[a.pk]) for a in attempts]


def renewals_run(*, now=None, max_batches: int = 1000, on_batch=None) -> dict[str, int]:
    """The sweeper: claim and charge batch after batch until nothing is due (`on_batch()`
    after each)."""
    total: dict[str, int] = {}
    for _batch in range(max_batches):
        ids = renewals_claim(now=now)
        if not ids:
            break
        for k, v in renewals_charge(ids).items():
            total[k] = total.get(k, 0) + v
        if on_batch is not None:
            on_batch()
    return total


# --- Outcome (purpose handlers, called inside billing's settlement transaction) ----

def renewal_paid(*, payment: Payment) -> Term | None:
    return renewals_paid(payments=[payment])[0]


def renewals_paid(*, payments: list[Payment]) -> list[Term | None]:
    """Settled renewal payments (a batch): each starts its subscription's next term from
    the later of the previous end and the payment (no paid day lost, no gap), with access,
    events and — when the offer changed — acceptance by continued use. Inside billing's
    settlement transaction (customers and payments locked); rows written in bulk."""
    from .services import _unapplied_payment, terms_create

    now = timezone.now()
    attempts = {a.payment_id: a for a in RenewalAttempt.objects.select_for_update().filter(
        payment_id__in=[p.pk for p in payments])}
    subs = {s.pk: s for s in Subscription.objects.select_for_update(of=("self",)).select_related("plan").filter(
        pk__in={a.subscription_id for a in attempts.values()})}
    RenewalAttempt.objects.filter(pk__in=[a.pk for a in attempts.values()]).update(
        status=RenewalAttempt.Status.SUCCEEDED, finished_at=now)
    taken = set(Term.objects.filter(subscription_id__in=list(subs)).values_list("subscription_id", "number"))
    specs, renewed, unapplied = [], [], []
    for payment in payments:
        attempt = attempts[payment.pk]
        sub = subs[attempt.subscription_id]
        # Renewal turned off while our charge was out (its outcome learnt only later, by
        # reconciliation): the customer cancelled before it bought anything (clause 6.4).
        cancelled = attempt.kind in RECONCILED_KINDS and not sub.auto_renew
        if not sub.is_live or cancelled or (sub.pk, attempt.term_number) in taken:
            unapplied.append(events.build(
                verb=events.UNAPPLIED_RENEWAL, subject=payment, customer=payment.customer_id,
                data={"subscription": sub.pk, "status": sub.status, "term": attempt.term_number,
                      **({"reason": "renewal turned off"} if cancelled and sub.is_live else {})}))
            why = (f"renewal charge for subscription {sub.pk}, which is {sub.status}" if not sub.is_live
                   else f"renewal charge for subscription {sub.pk}, whose renewal was turned off" if cancelled
                   else f"renewal charge for term {attempt.term_number} of subscription {sub.pk}, already paid")
            transaction.on_commit(lambda pk=payment.pk, why=why: _unapplied_payment(pk, why), robust=True)
            continue
        taken.add((sub.pk, attempt.term_number))
        specs.append(dict(subscription=sub, payment=payment, plan=sub.plan, number=attempt.term_number,
                          starts_at=renewal_term_start(previous_end=sub.current_period_end, paid_at=payment.paid_at)))
        renewed.append((sub, payment))
    terms = terms_create(specs)
    renewed_events = []
    for (sub, payment), term in zip(renewed, terms, strict=True):
        was = sub.status
        sub.current_period_start, sub.current_period_end = term.starts_at, term.ends_at
        sub.status = Subscription.Status.ACTIVE
        sub.failed_attempts, sub.first_failed_at = 0, None
        sub.next_charge_at = next_charge_for(sub)
        renewed_events.append(events.build(
            verb="subscription.renewed", subject=sub, customer=sub.customer_id,
            data={"term": term.number, "starts_at": term.starts_at.isoformat(),
                  "ends_at": term.ends_at.isoformat(), "payment": str(payment.public_id), "was": was}))
    rows_update([sub for sub, _p in renewed], ["current_period_start", "current_period_end", "status",
                                               "failed_attempts", "first_failed_at", "next_charge_at", "updated_at"])
    events.record_many(unapplied + renewed_events)
    _accept_amendments_by_continued_use(renewed=renewed)
    by_payment = {term.payment_id: term for term in terms}
    return [by_payment.get(p.pk) for p in payments]


def renewal_by_invoice(*, payment: Payment, subscription: Subscription) -> Term | None:
    """A bank transfer (an invoice) for the plan of a live subscription pays its next
    term: recorded as a renewal attempt of its own and settled by `renewals_paid`, the
    path of every renewal (term from the later of the previous end and the payment, access,
    events, acceptance by continued use). Inside billing's settlement transaction, the
    customer locked. A term already paid by then (the saved card was charged too) makes it
    an unapplied payment, refunded like any other."""
    from .services import _bought_nothing

    sub = Subscription.objects.select_for_update().get(pk=subscription.pk)
    if Term.objects.filter(subscription=sub, starts_at__gt=payment.paid_at).exists():
        # The next term is already paid (the saved card, or another invoice): one term ahead
        # is what a renewal buys; this transfer is returned.
        return _bought_nothing(
            payment, verb=events.UNAPPLIED_RENEWAL,
            data={"subscription": sub.pk, "status": sub.status, "reason": "next term already paid"},
            why=gettext_noop("invoice for subscription %(subscription)s, whose next term is already paid"),
            why_params={"subscription": sub.pk})
    term_number = _next_term_number(sub)
    RenewalAttempt.objects.create(subscription=sub, term_number=term_number,
                                  attempt_no=_next_attempt_no(sub, term_number),
                                  kind=RenewalAttempt.Kind.INVOICE, payment=payment)
    return renewals_paid(payments=[payment])[0]


def renewals_by_invoice(payments: list[Payment]) -> dict[int, str]:
    """Of these purchase payments, the invoices that paid a live subscription's next term
    (`renewal_by_invoice`), labelled as renewals for staff (billing.purposes labels_of).
    One query."""
    from billing import purposes

    paid = RenewalAttempt.objects.filter(payment_id__in=[p.pk for p in payments], kind=RenewalAttempt.Kind.INVOICE)
    return dict.fromkeys(paid.values_list("payment_id", flat=True), purposes.label_for(PURPOSE_RENEWAL))


def _invoice_renewals():
    return RenewalAttempt.objects.filter(kind=RenewalAttempt.Kind.INVOICE).values("payment_id")


def renewal_payments(queryset):
    """For the admin's purpose filter: renewals, with the invoices that paid a next term."""
    return queryset.filter(Q(purpose=PURPOSE_RENEWAL) | Q(pk__in=_invoice_renewals()))


def purchase_payments(queryset):
    """For the admin's purpose filter: purchases, without the invoices that paid a next term."""
    from .services import PURPOSE_CHECKOUT

    return queryset.filter(purpose=PURPOSE_CHECKOUT).exclude(pk__in=_invoice_renewals())


def _next_term_number(sub: Subscription) -> int:
    return (Term.objects.filter(subscription=sub).aggregate(n=Max("number"))["n"] or 0) + 1


def _next_attempt_no(sub: Subscription, term_number: int) -> int:
    return (RenewalAttempt.objects.filter(subscription=sub, term_number=term_number)
            .aggregate(n=Max("attempt_no"))["n"] or 0) + 1


def _accept_amendments_by_continued_use(*, renewed: list[tuple[Subscription, Payment]]) -> None:
    """Clause 11 (and 2.4): the documents in force at renewal — the Offer, the Privacy
    Policy, the Terms of Use — are accepted by continued use, with this payment as
    evidence, when any of them differs from the version of its kind last accepted."""
    pinned = {payment.pk: {d["kind"]: d["id"] for d in payment.pinned_documents} for _sub, payment in renewed}
    if not any(pinned.values()):
        return
    last = offer_services.accepted_versions({s.customer_id for s, _p in renewed})
    for sub, payment in renewed:
        if any(last.get((payment.customer_id, kind)) != document_id for kind, document_id in pinned[payment.pk].items()):
            offer_services.acceptance_record(payment=payment, plan_code=sub.plan.code, plan_name=sub.plan.name,
                                             price_minor=payment.amount_minor, currency=payment.currency,
                                             kind=Acceptance.Kind.CONTINUED_USE)


def renewal_declined(*, payment: Payment) -> None:
    from . import tasks
    from .services import subscription_end

    attempt = RenewalAttempt.objects.select_for_update().get(payment=payment)
    sub = Subscription.objects.select_for_update().get(pk=attempt.subscription_id)
    now = timezone.now()
    RenewalAttempt.objects.filter(pk=attempt.pk).update(status=RenewalAttempt.Status.DECLINED, finished_at=now,
                                                         error=payment.failure_message[:255])
    if Term.objects.filter(subscription=sub, number__gte=attempt.term_number).exists():
        # A late answer for a term paid another way meanwhile (the customer's own card, an
        # invoice, another try): the subscription has moved on; nothing of it changes.
        return
    if not sub.is_live or not sub.auto_renew or attempt.kind == RenewalAttempt.Kind.CUSTOMER:
        # Ended, or renewal off: it ends with its paid term, no retry; the customer's own
        # try with another card does not move the schedule either.
        return  # the customer's own try with another card does not move the schedule
    retry_days = settings.RENEWAL_RETRY_DAYS
    if attempt.kind == RenewalAttempt.Kind.STAFF:
        # An extra try by staff of a past-due subscription: it uses up none of the customer's
        # retries. Its claim cleared the next charge; the schedule is put back as it was.
        slot = min(max(sub.failed_attempts, 1), len(retry_days)) - 1
        sub.next_charge_at = (sub.first_failed_at + timedelta(days=retry_days[slot]) if sub.first_failed_at
                              else now)
        sub.save(update_fields=["next_charge_at", "updated_at"])
        events.record(verb="renewal.staff_try_declined", subject=sub, customer=sub.customer,
                      data={"try": attempt.attempt_no, "reason": payment.failure_message,
                            "next_retry_at": sub.next_charge_at.isoformat()})
        return
    sub.failed_attempts += 1
    sub.first_failed_at = sub.first_failed_at or now
    if sub.failed_attempts <= len(retry_days):
        sub.status = Subscription.Status.PAST_DUE
        sub.next_charge_at = sub.first_failed_at + timedelta(days=retry_days[sub.failed_attempts - 1])
        sub.save()
        events.record(verb="renewal.failed", subject=sub, customer=sub.customer,
                      data={"try": attempt.attempt_no, "reason": payment.failure_message,
                            "next_retry_at": sub.next_charge_at.isoformat()})
        transaction.on_commit(lambda: tasks.subscription_email.delay(sub.pk, "emails/renewal_failed"))
        return
    sub.save()
    events.record(verb="renewal.failed", subject=sub, customer=sub.customer,
                  data={"try": attempt.attempt_no, "reason": payment.failure_message, "next_retry_at": None})
    subscription_end(subscription_id=sub.pk, reason=Subscription.EndReason.LAPSED)
    transaction.on_commit(lambda: tasks.subscription_email.delay(sub.pk, "emails/subscription_lapsed"))


# --- 4. Reconcile ------------------------------------------------------------------

def renewals_reconcile(*, now=None) -> dict[str, int]:
    now = now or timezone.now()
    cutoff = now - timedelta(minutes=settings.RENEWAL_RECONCILE_AFTER_MINUTES)
    stuck = list(RenewalAttempt.objects.filter(
        status__in=RenewalAttempt.IN_FLIGHT,
        kind__in=RECONCILED_KINDS, created_at__lt=cutoff, payment__status=Payment.Status.PROCESSING,
    ).select_related("payment__payment_method").order_by("created_at")[:1000])
    counts: dict[str, int] = {}
    for attempt in stuck:
        payment = attempt.payment
        try:
            charge = get_gateway(payment.gateway).lookup(invoice_id=str(payment.public_id))
            if charge.status == ChargeStatus.NOT_FOUND:
                outcome = renewal_charge(attempt_id=attempt.pk)  # never reached the gateway: same key
            else:
                billing.payment_apply_result(public_id=payment.public_id, charge=charge, source="reconcile")
                outcome = charge.status
        except GatewayError as exc:
            log.warning("reconciling %s: gateway not answering: %s", payment.idempotency_key, exc)
            outcome = "unknown"
        except Exception:  # one payment that cannot settle must not stop the sweep for the rest
            log.exception("reconciling %s failed", payment.idempotency_key)
            outcome = "error"
        counts[str(outcome)] = counts.get(str(outcome), 0) + 1
    return counts


# --- Retry now (staff), pay with another card (customer) ------------------------------

def renewal_retry_now(*, subscription_id: int, by) -> RenewalAttempt | None:
    """Staff: charge this subscription's next term now, through the sweep's own claim and
    charge (same idempotency keys, same settlement), and only this subscription.
    - past due: an extra try (kind STAFF); declined, it uses up none of the customer's
      retries and leaves the schedule as it was;
    - due and not yet tried: the scheduled charge itself, a minute before the sweep;
    - paid up to its end (charge not due), a charge under way, or the customer's consent to
      the processing of personal data withdrawn (the claim would not charge it): refused.
    Returns the attempt, or None when it could not be claimed now (no exchange rate: the
    sweep goes on with it)."""
    from .services import _lock_customer

    customer_id = Subscription.objects.values_list("customer_id", flat=True).get(pk=subscription_id)
    with transaction.atomic():
        _lock_customer(customer_id)
        sub = Subscription.objects.select_for_update().get(pk=subscription_id)
        if not sub.is_live or not sub.auto_renew:
            raise ValueError(_("Only a live subscription with renewal on can be charged."))
        if consent_withdrawn(sub.customer):  # the claim would skip it (and turn renewal off): say why here
            raise ValueError(CONSENT_WITHDRAWN_STAFF_REFUSAL)
        now = timezone.now()
        if sub.renewal_attempts.filter(status__in=RenewalAttempt.IN_FLIGHT).exists():
            raise ValueError(_("A renewal charge of this subscription is under way."))
        past_due = sub.status == Subscription.Status.PAST_DUE
        if not past_due and (sub.next_charge_at is None or sub.next_charge_at > now):
            # paid up to its current end: charging now would pay a term ahead
            raise ValueError(_("Nothing to retry: the next renewal charge is due on %(date)s.") % {
                "date": formats.date_format(timezone.localtime(sub.next_charge_at or sub.current_period_end),
                                            "DATETIME_FORMAT")})
        sub.next_charge_at = now
        sub.save(update_fields=["next_charge_at", "updated_at"])
        events.record(verb="renewal.retry_requested", subject=sub, customer=sub.customer, actor=by,
                      actor_kind=Event.ActorKind.STAFF, data={"extra_try": past_due})
    ids = renewals_claim(subscription_ids=[subscription_id],
                         kind=RenewalAttempt.Kind.STAFF if past_due else RenewalAttempt.Kind.AUTOMATIC)
    if not ids:
        return None
    renewals_charge(ids)
    return RenewalAttempt.objects.select_related("payment", "subscription").get(pk=ids[0])


def renewal_customer_payment(*, subscription: Subscription, token: str, client_ip, user_agent) -> Payment:
    """A past-due customer pays the next term on the hosted page with another card; the
    new card's token replaces the saved one (billing saves it on settlement). A payment of
    theirs the gateway is still deciding refuses a second one; pages opened before and not
    paid expire (services.payment_pages_supersede), so the term is paid once.
    Refused (services.CheckoutRefused, nothing created) while the customer's consent to the
    processing of personal data is withdrawn, or while their request for the account's
    deletion waits for staff, as checkout is (the hosted page would refuse the payment
    anyway: billing.services.payment_not_payable)."""
    from accounts.personal_data import (
        CONSENT_WITHDRAWN_MESSAGE,
        DELETION_PENDING_MESSAGE,
        deletion_requested,
    )

    from .services import (
        CheckoutRefused,
        _lock_customer,
        checkout_in_flight,
        payment_pages_supersede,
        still_processing,
    )

    key = f"renewal-customer:{subscription.pk}:{_next_term_number(subscription)}:{token}"
    if not Payment.objects.filter(idempotency_key=key).exists():  # before any transaction: asks the gateway
        in_flight = checkout_in_flight(subscription.customer, except_key=key, purpose=PURPOSE_RENEWAL)
        if in_flight is not None:
            raise ValueError(still_processing(in_flight))
    with transaction.atomic():
        _lock_customer(subscription.customer_id)  # first, as every service does (expiring pages locks it too)
        sub = Subscription.objects.select_for_update().select_related("plan", "customer").get(pk=subscription.pk)
        if consent_withdrawn(sub.customer):  # a renewal is a purchase: as checkout_start, not without the consent
            raise CheckoutRefused(str(CONSENT_WITHDRAWN_MESSAGE))
        if deletion_requested(sub.customer):  # no purchase while it waits, as checkout_start
            raise CheckoutRefused(str(DELETION_PENDING_MESSAGE))
        if sub.status != Subscription.Status.PAST_DUE:
            raise ValueError(_("This subscription has nothing to pay."))
        if renewal_in_flight(sub):  # a retry of the saved card is at the gateway: it may pay this term
            raise ValueError(_("Your saved card is being charged for this term right now. Look again in a few "
                               "minutes: if the charge went through, the term is paid; if not, pay here with "
                               "another card."))
        term_number = _next_term_number(sub)
        key = f"renewal-customer:{sub.pk}:{term_number}:{token}"
        existing = Payment.objects.filter(idempotency_key=key).first()
        if existing:
            return existing
        payment_pages_supersede(sub.customer, purpose=PURPOSE_RENEWAL, except_key=key)
        attempt_no = _next_attempt_no(sub, term_number)
        conversion = exchange.conversion_for(customer=sub.customer, kzt_amount_minor=sub.renewal_price_minor)
        payment, _created = billing.payment_create(
            customer=sub.customer, purpose=PURPOSE_RENEWAL, purpose_ref=str(sub.pk),
            description=f"Soldee — {sub.plan.name}, 30 days (renewal)", conversion=conversion,
            idempotency_key=key, client_ip=client_ip, user_agent=user_agent,
            pinned_documents=[offer_services.pin(d) for d in offer_services.documents_in_force().values()],
        )
        RenewalAttempt.objects.create(subscription=sub, term_number=term_number, attempt_no=attempt_no,
                                      kind=RenewalAttempt.Kind.CUSTOMER, payment=payment)
    return payment


# --- Reminders and the end of cancelled subscriptions -----------------------------------

def reminders_due(*, now=None) -> list[tuple[int, object]]:
    """Claim the subscriptions whose reminder is due (each once per term): (id, the end of
    the term the reminder is for)."""
    now = now or timezone.now()
    horizon = now + timedelta(days=settings.RENEWAL_REMINDER_DAYS)
    due = list(Subscription.objects.filter(status=Subscription.Status.ACTIVE, auto_renew=True,
                                           next_charge_at__lte=horizon, next_charge_at__gt=now)
               .values_list("pk", "current_period_end", "reminder_sent_for"))
    claimed = []
    for pk, end, sent_for in due:
        if sent_for == end:
            continue
        # The price it states is kept with it: the next charge is never more (renewal_price_minor).
        price = Plan.objects.filter(pk=OuterRef("plan_id")).values("price_minor")
        if Subscription.objects.filter(pk=pk, current_period_end=end).exclude(reminder_sent_for=end).update(
                reminder_sent_for=end, reminded_price_minor=Subquery(price)):
            claimed.append((pk, end))
    return claimed


def subscriptions_expire(*, now=None) -> int:
    """Renewal off and the paid term over: the subscription ends, access is revoked."""
    from . import tasks
    from .services import _lock_customer, refunded_ahead, subscription_end

    now = now or timezone.now()
    ended = 0
    for pk, customer_id in Subscription.objects.filter(
        status__in=LIVE_STATUSES, auto_renew=False, current_period_end__lte=now
    ).values_list("pk", "customer_id")[:1000]:
        with transaction.atomic():
            _lock_customer(customer_id)
            sub = Subscription.objects.select_for_update().get(pk=pk)
            if not sub.is_live or sub.auto_renew or sub.current_period_end > now:
                continue
            subscription_end(subscription_id=pk, reason=Subscription.EndReason.REFUNDED if refunded_ahead(sub)
                             else Subscription.EndReason.CANCELLED)
            transaction.on_commit(lambda pk=pk: tasks.subscription_email.delay(pk, "emails/subscription_ended"))
            ended += 1
    return ended
