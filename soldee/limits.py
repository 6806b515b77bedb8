"""How often one customer may file what reaches staff (error reports, refund requests):
each one stores files, sends staff an alert and the customer an e-mail, so a loop of them
would bury the real ones (found by the security review). Fixed windows per customer in the
shared cache; only what was accepted counts (a refused form does not use the allowance).
Login and sign-up limits are allauth's (ACCOUNT_RATE_LIMITS)."""

import time

from django.conf import settings
from django.core.cache import cache


def _keys(action: str, customer_id: int):
    now = time.time()
    for amount, seconds in settings.SOLDEE_CUSTOMER_LIMITS.get(action, ()):
        yield amount, seconds, f"limit:{action}:{customer_id}:{seconds}:{int(now // seconds)}"


def used_up(action: str, customer_id: int) -> bool:
    """True while a window's allowance for `action` is used up (nothing is counted)."""
    return any((cache.get(key) or 0) >= amount for amount, _s, key in _keys(action, customer_id))


def count(action: str, customer_id: int) -> None:
    """One `action` of the customer's was accepted."""
    for _amount, seconds, key in _keys(action, customer_id):
        cache.add(key, 0, timeout=seconds + 60)
        try:
            cache.incr(key)
        except ValueError:  # evicted between add and incr
            cache.set(key, 1, timeout=seconds + 60)
