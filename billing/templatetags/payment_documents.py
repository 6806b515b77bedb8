"""Personal-account helpers for receipts, refund notes and invoices.

    {% load payment_documents %}
    {% payment_documents_for payment as docs %}   receipt and refund notes of a payment
    {% invoice_plans user as plans %}             plans a legal entity can get an invoice for
    {% open_invoices user as invoices %}          its invoices not paid, still valid and payable
"""

from django import template

from ..documents import invoice_plans_for, payable_invoices
from ..models import PaymentDocument

register = template.Library()


@register.simple_tag
def payment_documents_for(payment) -> list:
    prefetched = getattr(payment, "account_documents", None)  # subscriptions.selectors.account_overview
    if prefetched is not None:
        return prefetched
    return list(PaymentDocument.objects.filter(
        payment=payment, doc_type__in=[PaymentDocument.DocType.RECEIPT, PaymentDocument.DocType.REFUND_NOTE],
    ).order_by("created_at", "id"))


@register.simple_tag
def invoice_plans(user) -> list:
    if not getattr(user, "is_authenticated", False):
        return []
    return invoice_plans_for(user)


@register.simple_tag
def open_invoices(user) -> list:
    """Issued and not paid yet, still valid: the customer downloads one again instead of
    asking for another (two invoices for one term risk two transfers)."""
    if not getattr(user, "is_authenticated", False):
        return []
    return list(payable_invoices(user)[:5])
