"""The one lock order of the portal: every service that changes money, contract or
subscription state for a customer locks that customer's user row FIRST (then payment,
subscription, refund). All such work for one customer is serialised; it cannot deadlock."""

from django.contrib.auth import get_user_model


def lock_customer(customer_id: int) -> None:
    """SELECT ... FOR NO KEY UPDATE on the customer's user row (inside a transaction).

    NO KEY: the lock still serialises every service for this customer, but it does not
    block the FOR KEY SHARE locks PostgreSQL takes to check foreign keys of rows other
    transactions insert (events, payments pointing at the customer) — with a plain
    FOR UPDATE, a claim that inserted such a row would deadlock at commit against a
    service holding the customer. (No effect on SQLite, which has no row locks.)"""
    get_user_model().objects.select_for_update(no_key=True).filter(pk=customer_id).first()


def lock_customers(customer_ids) -> None:
    """`lock_customer` for many customers at once (a renewal batch), in ascending id order:
    two batches, or a batch and a single-customer service, always lock in the same order,
    so they wait for each other but never deadlock."""
    ids = sorted(set(customer_ids))
    if ids:
        list(get_user_model().objects.select_for_update(no_key=True).filter(pk__in=ids)
             .order_by("pk").values_list("pk", flat=True))
