from django.db.models import CharField, Exists, OuterRef, Prefetch
from django.db.models.functions import Cast
from django.utils import timezone

from accounts.personal_data import consent_withdrawn
from billing.documents import invoice_plans_for
from billing.models import Payment, PaymentDocument, PaymentMethod
from offer.models import Acceptance, AgreementCopyRequest
from soldee.event_texts import CUSTOMER_TEXTS
from soldee.events import BANK_DECIDING
from soldee.models import Event

from .models import NOT_CHARGED, AccessGrant, AgentCredential, Subscription, Term
from .services import grace, paid_ahead_term

# The personal account shows the latest rows; "all" pages list the full history.
PAYMENTS_SHOWN = 12
AGREEMENTS_SHOWN = 5
EVENTS_SHOWN = 30


def payments_of(user):
    """A customer's payments, newest first, with receipts and refund notes prefetched
    (one query for the page, not one per payment). Left out: checkouts that expired unpaid
    and automatic renewals that asked no card (none saved, or renewal turned off before the
    charge)."""
    return (Payment.objects.filter(customer=user).exclude(status=Payment.Status.EXPIRED)
            .exclude(status=Payment.Status.FAILED, failure_code__in=NOT_CHARGED)
            # A card typed and the bank still deciding: no "continue to payment" (a second payment).
            .annotate(bank_deciding=Exists(Event.objects.filter(
                verb=BANK_DECIDING, subject_type="billing.payment", subject_id=Cast(OuterRef("pk"), CharField()))))
            .prefetch_related(Prefetch(
                "documents", to_attr="account_documents",
                queryset=PaymentDocument.objects.filter(doc_type__in=[
                    PaymentDocument.DocType.RECEIPT, PaymentDocument.DocType.REFUND_NOTE]).order_by("created_at", "id"),
            )).order_by("-created_at", "-id"))


def acceptances_of(user):
    """A customer's agreements, newest first, with documents and copy requests prefetched."""
    return (Acceptance.objects.filter(customer=user).select_related("agreement_copy")
            .prefetch_related("accepted_documents__document", Prefetch(
                "copy_requests", to_attr="copy_requests_newest_first",
                queryset=AgreementCopyRequest.objects.order_by("-requested_at", "-id"),
            )).order_by("-accepted_at", "-id"))


def _latest(queryset, n: int) -> tuple[list, bool]:
    rows = list(queryset[:n + 1])
    return rows[:n], len(rows) > n


def payment_options(customer) -> dict:
    """How the customer's next term can be paid: a saved card the renewal charges, and
    whether they may pay by invoice (a resident legal entity). The account and the
    renewal e-mails say what to do from these."""
    return {
        "saved_card": PaymentMethod.objects.filter(customer=customer, is_active=True).exists(),
        "invoice_payer": bool(invoice_plans_for(customer)),
    }


def paid_ahead_refund(subscription: Subscription | None) -> dict | None:
    """Renewal is off (by the customer, or by staff at their request) while the next term is
    paid and has not begun (services.paid_ahead_term): the customer may still ask for that
    payment back, on ground (a) "access not granted", as the renewal-off page's "turn renewal
    off and ask for the payment back" does (clause 6.4). The account and the "renewal is
    off" e-mail point to it. Returns {"term": the paid-ahead term, "request": the customer's
    request for its payment still under review or approved, or None}; None when renewal is
    on (the renewal-off page offers it then), the subscription has ended, or no such term."""
    if subscription is None or not subscription.is_live or subscription.auto_renew:
        return None
    term = paid_ahead_term(subscription)
    if term is None:
        return None
    request = (term.payment.refund_requests.filter(customer_id=subscription.customer_id,
                                                   status__in=["open", "approved"])
               .order_by("-created_at", "-id").first())
    return {"term": term, "request": request}


def _renewal_blocked(subscription: Subscription | None) -> dict | None:
    """{"why": the customer-facing reason, "currency_needed": whether choosing a payment
    currency in the profile fixes it}, or None."""
    if subscription is None or subscription.status != Subscription.Status.PAST_DUE or not subscription.auto_renew:
        return None
    from billing.exchange import CurrencyNotChosen, RateUnavailable, conversion_for

    try:
        conversion_for(customer=subscription.customer, kzt_amount_minor=subscription.renewal_price_minor)
    except RateUnavailable as exc:
        return {"why": str(exc), "currency_needed": isinstance(exc, CurrencyNotChosen)}
    return None


def account_overview(user) -> dict:
    subscriptions = list(Subscription.objects.filter(customer=user).select_related("plan")[:10])
    current = next((s for s in subscriptions if s.is_live), subscriptions[0] if subscriptions else None)
    grant = running_term = next_term = None
    refunded_ahead = False
    if current is not None:
        # A renewal is paid a day ahead: the subscription's period is then the NEXT term,
        # while the term the customer is using runs on until its end (and its access). A term
        # after the period's end was paid and refunded before it started (term_refunded).
        now = timezone.now()
        # Past due, the term just ended still gives access during the grace (services.grace).
        terms = list(Term.objects.filter(subscription=current, ends_at__gt=now - grace(current))
                     .order_by("starts_at")[:3])
        refunded_ahead = current.is_live and any(t.starts_at >= current.current_period_end for t in terms)
        for term in [t for t in terms if t.starts_at < current.current_period_end][:2]:
            if term.starts_at <= now:
                running_term = term
            elif next_term is None:
                next_term = term
        grants = AccessGrant.objects.filter(term__subscription=current).select_related("term")
        grant = (grants.filter(term=running_term).first() if running_term else None) or grants.first()
    payments, more_payments = _latest(payments_of(user), PAYMENTS_SHOWN)
    acceptances, more_acceptances = _latest(acceptances_of(user), AGREEMENTS_SHOWN)
    return {
        "subscription": current,
        "grant": grant,
        "running_term": running_term,  # the paid term covering now, if any
        "next_term": next_term,  # a paid term that starts later (renewal paid ahead)
        "refunded_ahead": refunded_ahead,  # the next term was refunded: the subscription ends with this one
        # renewal off and the next term paid, not begun: its payment may be asked back
        "paid_ahead_refund": paid_ahead_refund(current) if current is not None and not refunded_ahead else None,
        "entitled": current is not None and current.is_live and running_term is not None,
        # Past due because the renewal cannot be charged at all now (no payment currency in a
        # non-resident's profile, no NBK rate: renewals._renewal_deferred): why, instead of a decline
        "renewal_blocked": _renewal_blocked(current),
        # Renewal off with consent withdrawn: it goes back on only once consent is given again
        # (personal_data.consent_withdraw); the page says so instead of offering the switch
        "renewal_needs_consent": current is not None and current.is_live and not current.auto_renew
        and not refunded_ahead and consent_withdrawn(user),
        **payment_options(user),
        "payments": payments,
        "more_payments": more_payments,
        "acceptances": acceptances,
        "more_acceptances": more_acceptances,
        # The declined "payment" of a renewal that asked no card is left out, as in the payments.
        "events": Event.objects.filter(customer=user, verb__in=list(CUSTOMER_TEXTS))
        .exclude(verb="payment.failed", data__code__in=NOT_CHARGED)
        .order_by("-created_at", "-id")[:EVENTS_SHOWN],
        "profile": getattr(user, "profile", None),
        # The customer's key for the AI agent (clause 8), if one is active.
        "agent_key": AgentCredential.objects.filter(customer=user, revoked_at__isnull=True).first(),
    }
