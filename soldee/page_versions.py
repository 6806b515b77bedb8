"""Which writes make which cached pages stale (soldee.pagecache).

- "plans": the plans on sale (the pricing page, prices and the invoice form in the account);
- "documents": the legal documents (footer links, the amendment notice in the account);
- "customer:<id>": everything one customer's personal account shows.

Every change of a customer's money, contract or subscription state writes an `Event` for
them in the same transaction (docs/architecture.md), so an Event write (save or
bulk_create) bumps that customer's version; the models the account shows bump it too,
for writes that come without an event (a copy request being rendered, a profile edit).
Writes that skip both (a bare `QuerySet.update()` with no event) are caught by the
account page's short cache lifetime (subscriptions.views.ACCOUNT_PAGE_TTL).
"""

from django.db.models.signals import post_delete, post_save

from . import pagecache

# model label -> how to find the customer's id on a row
CUSTOMER_OF = {
    "soldee.Event": lambda row: row.customer_id,
    "accounts.User": lambda row: row.pk,
    "accounts.CustomerProfile": lambda row: row.user_id,
    "subscriptions.Subscription": lambda row: row.customer_id,
    "subscriptions.AccessGrant": lambda row: row.customer_id,
    "subscriptions.AgentCredential": lambda row: row.customer_id,
    "billing.Payment": lambda row: row.customer_id,
    "billing.PaymentMethod": lambda row: row.customer_id,
    "billing.PaymentDocument": lambda row: row.customer_id,
    "offer.Acceptance": lambda row: row.customer_id,
    "offer.AgreementCopy": lambda row: row.acceptance.customer_id,
    "offer.AgreementCopyRequest": lambda row: row.acceptance.customer_id,
    "offer.AmendmentNoticeDismissal": lambda row: row.customer_id,
}
GLOBAL_VERSIONS = {"plans.Plan": "plans", "offer.LegalDocument": "documents"}


def customer_version(customer_id) -> str:
    return f"customer:{customer_id}"


def customers_changed(customer_ids) -> None:
    pagecache.bump(*sorted({customer_version(pk) for pk in customer_ids if pk}))


def _customer_row_changed(sender, instance, **kwargs):
    customers_changed([CUSTOMER_OF[sender._meta.label](instance)])


def _global_row_changed(sender, instance, **kwargs):
    pagecache.bump(GLOBAL_VERSIONS[sender._meta.label])


def connect() -> None:
    from django.apps import apps

    for label in CUSTOMER_OF:
        model = apps.get_model(label)
        for signal in (post_save, post_delete):
            signal.connect(_customer_row_changed, sender=model, dispatch_uid=f"page_versions.{label}.{signal}")
    for label in GLOBAL_VERSIONS:
        model = apps.get_model(label)
        for signal in (post_save, post_delete):
            signal.connect(_global_row_changed, sender=model, dispatch_uid=f"page_versions.{label}.{signal}")
