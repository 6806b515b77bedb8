"""Whole-page cache for hot GET pages (the visitor's pricing page, the personal account).

A cached page is the HTML of one ordinary render with its per-request parts cut out
("holes"): the CSRF token of every form, the CSP nonce, the `next` path of the language
switch. Serving a cached page fills the holes for the request at hand, so no token,
nonce or path is ever shared between requests.

Freshness: a page depends on versions ("plans", "customer:7"), random tokens in the
shared cache that `bump()` replaces when data changes (soldee.page_versions says which
writes bump what). A page is stored with the versions read BEFORE it was rendered and
served only while they are still current, so a render racing a change is never served.
The key holds a release fingerprint (code, templates, translations, static manifest), so
a deploy never serves the previous release's pages, and the language.

Only with a shared cache (settings.SOLDEE_PAGE_CACHE, on when CACHE_URL is Redis or
Memcached): a per-process cache cannot be told about a change made in another process.
A cache that is down is logged and the page is rendered as if there were no cache.
"""

from __future__ import annotations

import contextlib
import contextvars
import functools
import hashlib
import logging
import re
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

from django.conf import settings
from django.contrib import messages
from django.core.cache import cache
from django.db import transaction
from django.http import HttpResponse
from django.utils.html import escape
from django.utils.translation import get_language

from . import local_pages
from .csrf_tokens import get_token

log = logging.getLogger(__name__)

CSRF_HOLE = "\x00csrf\x00"
NONCE_HOLE = "\x00nonce\x00"
NEXT_HOLE = "\x00next\x00"
_CSRF_INPUT = re.compile(r'(<input type="hidden" name="csrfmiddlewaretoken" value=")[^"]*(")')
_NEXT_INPUT = '<input type="hidden" name="next" value="{}">'


def enabled() -> bool:
    return bool(getattr(settings, "SOLDEE_PAGE_CACHE", False))


# --- Versions ------------------------------------------------------------------------

def _version_key(name: str) -> str:
    return f"pagever:{name}"


def _versions(names: tuple[str, ...], found: dict) -> tuple[str, ...]:
    """The current token of each version, from `found` (a get_many answer that asked for
    them); a missing one is created."""
    tokens = []
    for key in map(_version_key, names):
        if key not in found:
            cache.add(key, uuid.uuid4().hex, None)
            found[key] = cache.get(key)
        tokens.append(found[key])
    return tuple(tokens)


# What read_ahead() fetched for the request being served: (keys asked, entries found).
_ahead: contextvars.ContextVar[tuple[frozenset, dict] | None] = contextvars.ContextVar(
    "pagecache_ahead", default=None)


def fetch(keys: list[str], names: tuple[str, ...]) -> tuple[dict, tuple[str, ...]]:
    """In ONE round trip: the entries at `keys` and the current tokens of the versions
    `names` (for any cache whose entries are valid only at their versions: the pages here,
    accounts.auth_backends' users). Raises when the cache cannot be read. Inside
    read_ahead() that asked for all of them, no round trip at all."""
    wanted = [*keys, *map(_version_key, names)]
    ahead = _ahead.get()
    if ahead is not None and ahead[0].issuperset(wanted):
        found = {key: ahead[1][key] for key in wanted if key in ahead[1]}
    else:
        found = cache.get_many(wanted)
    return found, _versions(names, found)


@contextlib.contextmanager
def read_ahead(keys: list[str], names: tuple[str, ...]) -> Iterator[None]:
    """Fetch these entries and versions in ONE round trip now, for the fetch() calls made
    inside the block (several caches a request consults one after another: the logged-in
    user, then its page). Only for reads that may see the same instant's versions: a GET
    view that writes nothing it then reads. A cache that cannot be read leaves fetch() to
    ask it again (and fail or log as it does)."""
    try:
        wanted = [*keys, *map(_version_key, names)]
        token = _ahead.set((frozenset(wanted), cache.get_many(wanted)))
    except Exception:
        log.exception("page cache: read-ahead failed")
        yield
        return
    try:
        yield
    finally:
        _ahead.reset(token)


def bump(*names: str) -> None:
    """Make every page keyed by these versions stale (when the page cache is on)."""
    if enabled():
        replace_versions(*names)


def replace_versions(*names: str) -> None:
    """New tokens for these versions: now, and again when the current transaction commits
    (anything built in between, from the data before the commit, is stored under the
    in-between version and never served). A rolled-back change only costs a rebuild. A
    cache that refuses the write three times is logged, never fails the change."""
    if not names:
        return

    def apply():
        for attempt in range(3):
            try:
                cache.set_many({_version_key(n): uuid.uuid4().hex for n in names}, None)
                break
            except Exception:
                if attempt == 2:
                    log.exception("versions %s not replaced: what they key may be served stale",
                                  ", ".join(names))
                    return
        try:
            local_pages.announce(cache, names)  # after the write: see soldee/local_pages.py
        except Exception:
            log.exception("versions %s replaced but not announced: processes may serve their copies "
                          "for up to %s s", ", ".join(names), local_pages.MAX_AGE)

    apply()
    if transaction.get_connection().in_atomic_block:
        transaction.on_commit(apply)


# --- Release fingerprint ---------------------------------------------------------------

_FINGERPRINT_DIRS = ("templates", "locale", "soldee", "accounts", "plans", "offer", "billing",
                     "subscriptions", "refunds")
_FINGERPRINT_SUFFIXES = {".py", ".html", ".txt", ".mo"}


@functools.cache
def release() -> str:
    """A fingerprint of what a page is made of besides data: our code, templates and
    translations, the static manifest (hashed file names), the libraries' versions and
    the Provider's details. Computed once per process."""
    import allauth
    import django

    digest = hashlib.sha256()
    base = Path(settings.BASE_DIR)
    files = sorted(p for d in _FINGERPRINT_DIRS for p in (base / d).rglob("*")
                   if p.suffix in _FINGERPRINT_SUFFIXES and p.is_file())
    manifest = Path(settings.STATIC_ROOT) / "staticfiles.json"
    if manifest.is_file():
        files.append(manifest)
    for path in files:
        digest.update(str(path.relative_to(base) if path.is_relative_to(base) else path).encode())
        digest.update(path.read_bytes())
    digest.update(repr((django.__version__, allauth.__version__, settings.PROVIDER,
                        getattr(settings, "PROVIDER_LOCALIZED", None), settings.SITE_URL)).encode())
    return digest.hexdigest()[:16]


# --- Holes -----------------------------------------------------------------------------

def cut(html: str, request) -> str:
    """The page with this request's CSRF tokens, CSP nonce and `next` path taken out."""
    html = _CSRF_INPUT.sub(lambda m: m.group(1) + CSRF_HOLE + m.group(2), html)
    nonce = getattr(request, "_csp_nonce", None)
    if nonce:  # LazyNonce is true once the page used it
        html = html.replace(str(nonce), NONCE_HOLE)
    return html.replace(_NEXT_INPUT.format(escape(request.get_full_path())), _NEXT_INPUT.format(NEXT_HOLE))


def fill(html: str, request) -> str:
    """A cut page with this request's CSRF token, CSP nonce and path put in."""
    if CSRF_HOLE in html:
        html = html.replace(CSRF_HOLE, escape(get_token(request)))
    if NONCE_HOLE in html:
        html = html.replace(NONCE_HOLE, str(request._csp_nonce))
    if NEXT_HOLE in html:
        html = html.replace(NEXT_HOLE, escape(request.get_full_path()))
    return html


# --- Serving ---------------------------------------------------------------------------

def page_key(name: str, versions_of: tuple[str, ...]) -> str:
    """Where page() keeps page `name` depending on `versions_of`, in the active language
    (what read_ahead() needs to fetch it together with something else)."""
    return ":".join(["page", name, release(), get_language() or "", *versions_of])


def page(request, *, name: str, versions_of: tuple[str, ...], render: Callable[[], HttpResponse],
         timeout: int | Callable[[], int]) -> HttpResponse:
    """`render()`'s response, from the cache when it holds this page for the current
    versions and language. A request carrying flash messages is rendered and not stored
    (the messages are its own). `timeout` (seconds) may be a callable, asked after the
    render: 0 = do not store."""
    if not enabled() or len(messages.get_messages(request)):
        return render()
    # One round trip: the page (stored with the versions it was rendered at) and the
    # current versions. Versions are read before rendering (see the module docstring).
    key = page_key(name, versions_of)
    ticket = None
    if local_pages.usable(cache, versions_of):  # announced versions: a local copy may do
        html, ticket = local_pages.get(cache, key, versions_of)
        if html is not None:
            return HttpResponse(fill(html, request))
    try:
        found, current = fetch([key], versions_of)
    except Exception:
        log.exception("page cache: read failed, rendering %s", name)
        return render()
    stored = found.get(key)
    if stored is not None and stored[0] == current:
        if ticket is not None:
            local_pages.keep(ticket, key, versions_of, current, stored[1], _seconds(timeout))
        return HttpResponse(fill(stored[1], request))
    response = render()
    seconds = _seconds(timeout)
    if response.status_code == 200 and not response.streaming and seconds > 0:
        html = cut(response.content.decode(response.charset), request)
        try:
            cache.set(key, (current, html), seconds)
        except Exception:
            log.exception("page cache: write failed for %s", name)
        else:
            if ticket is not None:
                local_pages.keep(ticket, key, versions_of, current, html, seconds)
    return response


def _seconds(timeout: int | Callable[[], int]) -> int:
    return timeout() if callable(timeout) else timeout
