from django.db.models import Prefetch

from billing.models import Payment, PaymentDocument
from offer.models import Acceptance, AgreementCopyRequest
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
        .prefetch_related(Prefetch(  # receipts and refund notes: one query, not one per payment
            "documents", to_attr="account_documents",
            queryset=PaymentDocument.objects.filter(doc_type__in=[
                PaymentDocument.DocType.RECEIPT, PaymentDocument.DocType.REFUND_NOTE]).order_by("created_at", "id"),
        )).order_by("-created_at")[:50],
        "acceptances": Acceptance.objects.filter(customer=user).select_related("agreement_copy")
        .prefetch_related("accepted_documents__document", Prefetch(
            "copy_requests", to_attr="copy_requests_newest_first",
            queryset=AgreementCopyRequest.objects.order_by("-requested_at", "-id"),
        )).order_by("-accepted_at")[:20],
        "events": Event.objects.filter(customer=user, verb__in=list(CUSTOMER_TEXTS))
        .order_by("-created_at", "-id")[:30],
        "profile": getattr(user, "profile", None),
    }
