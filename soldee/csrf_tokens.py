"""Django's CSRF token for a form, made with one read of the OS random source.

`django.middleware.csrf.get_token` draws every character of the 32-character mask (and,
for a first visit, of the 32-character secret) with its own `secrets.choice` call: 32–64
calls into the OS random source, a fifth of the time of a page served from the page cache
(soldee.pagecache fills every form's token hole on each request). This is the same
function with the same alphabet and the same uniform distribution, drawn from one
`os.urandom` read, and the same side effects (the secret in `request.META`, the cookie
renewed or set by CsrfViewMiddleware). tests/pagespeed/test_csrf_tokens.py posts forms
with its tokens through Django's own CSRF check.
"""

from __future__ import annotations

import os

from django.middleware.csrf import CSRF_ALLOWED_CHARS, CSRF_SECRET_LENGTH

_N = len(CSRF_ALLOWED_CHARS)                   # 62
_INDEX = {c: i for i, c in enumerate(CSRF_ALLOWED_CHARS)}
_LIMIT = 256 - 256 % _N                        # bytes below it map uniformly (248)


def random_chars(length: int = CSRF_SECRET_LENGTH) -> str:
    """`length` characters of CSRF_ALLOWED_CHARS, each uniformly and independently drawn
    (rejection sampling: a byte >= 248 is dropped, so `% 62` has no bias)."""
    chars: list[str] = []
    while len(chars) < length:
        chars.extend(CSRF_ALLOWED_CHARS[b % _N] for b in os.urandom(length + 8) if b < _LIMIT)
    return "".join(chars[:length])


def get_token(request) -> str:
    """As django.middleware.csrf.get_token: a new mask over the request's CSRF secret
    (a new secret, and so a new cookie, on a first visit)."""
    secret = request.META.get("CSRF_COOKIE")
    if secret is None:
        secret = random_chars()
        request.META["CSRF_COOKIE"] = secret
    # Since the cookie is being used, CsrfViewMiddleware sends it again (renewing its expiry).
    request.META["CSRF_COOKIE_NEEDS_UPDATE"] = True
    mask = random_chars()
    return mask + "".join(CSRF_ALLOWED_CHARS[(_INDEX[s] + _INDEX[m]) % _N] for s, m in zip(secret, mask, strict=True))
