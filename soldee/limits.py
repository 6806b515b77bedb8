"""How often one customer may file what reaches staff (error reports, refund requests):
each one stores files, sends staff an alert and the customer an e-mail, so a loop of them
would bury the real ones (found by the security review). A fixed window per customer in
the shared cache; login and sign-up limits are allauth's (ACCOUNT_RATE_LIMITS)."""

import time

from django.conf import settings
from django.core.cache import cache


def allow(action: str, customer_id: int) -> bool:
    """Count one `action` by the customer; False once the window's allowance is used."""
    for amount, seconds in settings.SOLDEE_CUSTOMER_LIMITS.get(action, ()):
        key = f"limit:{action}:{customer_id}:{seconds}:{int(time.time() // seconds)}"
        cache.add(key, 0, timeout=seconds + 60)
        try:
            count = cache.incr(key)
        except ValueError:  # evicted between add and incr
            cache.set(key, 1, timeout=seconds + 60)
            count = 1
        if count > amount:
            return False
    return True
