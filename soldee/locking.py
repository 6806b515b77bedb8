"""The one lock order of the portal: every service that changes money, contract or
subscription state for a customer locks that customer's user row FIRST (then payment,
subscription, refund). All such work for one customer is serialised; it cannot deadlock."""

from django.contrib.auth import get_user_model


def lock_customer(customer_id: int) -> None:
    """SELECT ... FOR UPDATE on the customer's user row (inside a transaction)."""
    get_user_model().objects.select_for_update().filter(pk=customer_id).first()
