"""What a settled (or failed) payment means is decided by the app that asked for it.

`billing` knows nothing about subscriptions: an app registers handlers for its payment
purposes in its AppConfig.ready(), and billing.services calls them inside the
settlement transaction. A small explicit registry, not Django signals.
"""

from collections.abc import Callable
from dataclasses import dataclass

from django.utils.translation import gettext as _


@dataclass(frozen=True)
class PurposeHandlers:
    on_settled: Callable  # (*, payment) -> None, inside the settlement transaction
    on_failed: Callable | None = None  # (*, payment) -> None
    # (*, payments) -> None: a batch of settled payments at once (renewals). Without it,
    # billing calls on_settled for each payment of the batch.
    on_settled_many: Callable | None = None
    label: str = ""  # what staff read in the admin ("Purchase", "Renewal")
    # (payments) -> {payment id: dict}: what the receipt says was bought (the paid term's
    # dates), read once per batch after on_settled.
    receipt_details: Callable | None = None
    # (payments) -> {payment id: label}: payments of this purpose that turned out to be
    # something else, in words for staff (an invoice for the plan of a live subscription
    # pays its next term: a renewal). The others read `label`. One call per batch.
    labels: Callable | None = None
    # (queryset) -> queryset: the payments that read as this purpose in the admin's purpose
    # filter, as `labels` names them (an invoice that paid the next term is a renewal, not
    # a purchase). Without it, the payments stored with this purpose.
    matching: Callable | None = None

    def settled(self, payments: list) -> None:
        if self.on_settled_many is not None:
            self.on_settled_many(payments=payments)
        else:
            for payment in payments:
                self.on_settled(payment=payment)


_registry: dict[str, PurposeHandlers] = {}


def register(purpose: str, *, on_settled: Callable, on_failed: Callable | None = None,
             on_settled_many: Callable | None = None, label: str = "",
             receipt_details: Callable | None = None, labels: Callable | None = None,
             matching: Callable | None = None) -> None:
    _registry[purpose] = PurposeHandlers(on_settled=on_settled, on_failed=on_failed,
                                         on_settled_many=on_settled_many, label=label,
                                         receipt_details=receipt_details, labels=labels, matching=matching)


def _by_purpose(payments: list) -> dict[str, list]:
    by_purpose: dict[str, list] = {}
    for payment in payments:
        by_purpose.setdefault(payment.purpose, []).append(payment)
    return by_purpose


def receipt_details(payments: list) -> dict[int, dict]:
    """What each payment bought, for its receipt, from its purpose's app (one call per purpose)."""
    found: dict[int, dict] = {}
    for purpose, group in _by_purpose(payments).items():
        handlers = _registry.get(purpose)
        if handlers is not None and handlers.receipt_details is not None:
            found.update(handlers.receipt_details(group))
    return found


def label_for(purpose: str) -> str:
    """The registered label of a purpose, or the purpose code itself."""
    handlers = _registry.get(purpose)
    return str(handlers.label) if handlers is not None and handlers.label else purpose


def labels_of(payments: list) -> dict[int, str]:
    """What each payment is, in words for staff: what its purpose's app says it turned out
    to be (an invoice that paid the next term: "Renewal"), else its purpose's label. One
    call per purpose."""
    found: dict[int, str] = {}
    for purpose, group in _by_purpose(payments).items():
        handlers = _registry.get(purpose)
        own = handlers.labels(group) if handlers is not None and handlers.labels is not None else {}
        found.update({payment.pk: str(own.get(payment.pk) or label_for(purpose)) for payment in group})
    # The money came and started nothing (a second payment for one order, a renewal charged
    # after renewal was turned off, …): marked by its event, refunded on a request opened for
    # it. One query for the whole list.
    for pk in _bought_nothing([payment.pk for payment in payments]):
        found[pk] = _("%(purpose)s — bought nothing, to be refunded") % {"purpose": found[pk]}
    return found


def _marking_events():
    """The events that mark a payment as having bought nothing (to be refunded)."""
    from soldee.events import UNAPPLIED_PAYMENT_VERBS
    from soldee.models import Event

    return Event.objects.filter(subject_type="billing.payment", verb__in=UNAPPLIED_PAYMENT_VERBS)


def _bought_nothing(payment_ids: list[int]) -> set[int]:
    if not payment_ids:
        return set()
    return {int(pk) for pk in _marking_events().filter(
        subject_id__in=[str(pk) for pk in payment_ids]).values_list("subject_id", flat=True)}


def bought_nothing(queryset):
    """The payments of `queryset` that bought nothing and are to be refunded: those labels_of
    reads "… — bought nothing, to be refunded" (the admin's purpose filter lists them)."""
    from django.db.models import CharField, Exists, OuterRef
    from django.db.models.functions import Cast

    return queryset.filter(Exists(_marking_events().filter(subject_id=Cast(OuterRef("pk"), CharField()))))


def payments_reading_as(queryset, purpose: str):
    """The payments of `queryset` that staff read as `purpose` (labels_of): its app's
    `matching`, or those stored with that purpose."""
    handlers = _registry.get(purpose)
    if handlers is not None and handlers.matching is not None:
        return handlers.matching(queryset)
    return queryset.filter(purpose=purpose)


def choices() -> list[tuple[str, str]]:
    return [(purpose, label_for(purpose)) for purpose in sorted(_registry)]


def handlers_for(purpose: str) -> PurposeHandlers:
    try:
        return _registry[purpose]
    except KeyError:
        raise LookupError(f"no handler registered for payment purpose {purpose!r}") from None
