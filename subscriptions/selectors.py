from billing.models import Payment
from offer.models import Acceptance
from soldee.event_texts import CUSTOMER_TEXTS
from soldee.models import Event

from .models import AccessGrant, Subscription


def account_overview(user) -> dict:
    subscriptions = list(Subscription.objects.filter(customer=user).select_related("plan")[:10])
    current = next((s for s in subscriptions if s.is_live), subscriptions[0] if subscriptions else None)
    grant = None
    if current is not None:
        grant = AccessGrant.objects.filter(term__subscription=current).select_related("term").first()
    return {
        "subscription": current,
        "grant": grant,
        "payments": Payment.objects.filter(customer=user).exclude(status=Payment.Status.EXPIRED)
        .order_by("-created_at")[:50],
        "acceptances": Acceptance.objects.filter(customer=user)
        .prefetch_related("accepted_documents__document").order_by("-accepted_at")[:20],
        "events": Event.objects.filter(customer=user, verb__in=list(CUSTOMER_TEXTS))
        .order_by("-created_at", "-id")[:30],
        "profile": getattr(user, "profile", None),
    }
