"""How often one customer may file what reaches staff (error reports, refund requests):
each one stores files, sends staff an alert and the customer an e-mail, so a loop of them
would bury the real ones (found by the security review). Fixed windows per customer in the
shared cache; only what was accepted counts (a refused form does not use the allowance).
Login and sign-up limits are allauth's (ACCOUNT_RATE_LIMITS).

The windows are Almaty wall-clock windows (settings.TIME_ZONE): the day is the Almaty
calendar day, from 00:00 to 24:00 Almaty time, not the UTC day (which turns at 05:00 in
Almaty), and the hour is the clock hour. A calendar day rather than a rolling 24 hours,
because it is what a customer reads in "30 a day" and can plan by: the allowance is whole
again after midnight in Almaty, the business's and the customer's day. The hourly limit
still holds across midnight, so a loop gets no more than the hourly allowance there."""

from django.conf import settings
from django.core.cache import cache
from django.utils import timezone


def _window(seconds: int) -> int:
    """The number of the `seconds`-long window now is in, counted on the local wall clock."""
    now = timezone.localtime(timezone.now(), timezone.get_default_timezone())
    wall = now.timestamp() + now.utcoffset().total_seconds()
    return int(wall // seconds)


def _keys(action: str, customer_id: int):
    for amount, seconds in settings.SOLDEE_CUSTOMER_LIMITS.get(action, ()):
        yield amount, seconds, f"limit:{action}:{customer_id}:{seconds}:{_window(seconds)}"


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
