"""Process-local copies of cached pages whose versions are announced on a Redis channel.

A page in the shared cache (soldee.pagecache) costs one Redis round trip per request: the
page and the current tokens of its versions, so that a change shows at once. For pages
that depend only on ANNOUNCED versions ("plans", "documents": rare staff edits, read on
every visitor's pricing page) each process keeps the page and the versions it was served
at, and subscribes to a channel on which every replacement of such a version is published
(`announce`, called by pagecache.replace_versions after the new token is written). Before
a local copy is served, the subscription's socket is read without waiting: a change
announced before this request began is seen and drops the copies, so nothing older than
the shared cache is served — the order is: new token written, then published; Redis
writes the message to every subscriber before answering the publisher.

The copies are trusted only while the subscription is known to be live: from its
subscribe confirmation on. A broken connection, a re-subscription (messages may have been
missed meanwhile) or another process after a fork drops them, and the page is read from
Redis as without this module. A copy also lives at most `MAX_AGE` seconds. On only with
the Redis cache backend (settings.SOLDEE_PAGE_CACHE_LOCAL, default on); a per-process
cache has nothing to save.
"""

from __future__ import annotations

import logging
import os
import threading
import time

from django.conf import settings

log = logging.getLogger(__name__)

ANNOUNCED = frozenset({"plans", "documents"})
MAX_AGE = 60  # seconds: a bound for the case where an announcement is lost without a disconnect
MAX_PAGES = 64


class _State:
    def __init__(self):
        self.pid = os.getpid()
        self.pubsub = None
        self.live = False  # the subscribe confirmation has been read since the last (re)connect
        self.generation = 0  # moves on every forget(): a read begun before it keeps nothing
        self.versions: dict[str, str] = {}
        self.pages: dict[str, tuple[tuple[str, ...], str, float]] = {}

    def forget(self) -> None:
        self.generation += 1
        self.versions.clear()
        self.pages.clear()


_state = _State()
_lock = threading.Lock()


def _client(cache):
    from django.utils.connection import ConnectionProxy

    from .cache import RedisCache

    if isinstance(cache, ConnectionProxy):  # django.core.cache.cache
        cache = cache._connections[cache._alias]
    if not isinstance(cache, RedisCache):
        return None
    return cache._cache.get_client(write=True)


def channel(cache) -> str:
    return cache.make_key("pagever-announcements")


def usable(cache, names) -> bool:
    return (getattr(settings, "SOLDEE_PAGE_CACHE_LOCAL", True) and ANNOUNCED.issuperset(names)
            and _client(cache) is not None)


def announce(cache, names) -> None:
    """Tell every process that these versions were replaced (after writing them)."""
    changed = sorted(ANNOUNCED.intersection(names))
    client = _client(cache)
    if changed and client is not None:
        client.publish(channel(cache), ",".join(changed))


def _reset() -> None:
    global _state
    if _state.pubsub is not None:
        try:
            _state.pubsub.close()
        except Exception:  # closing a broken connection
            pass
    _state = _State()


def _sync(cache) -> bool:
    """Read what has been announced (without waiting); True when the local copies can be
    trusted now. Call with _lock held."""
    if _state.pid != os.getpid():  # a forked child: the parent's socket is not ours
        _state.pubsub = None
        _reset()
    if _state.pubsub is None:
        try:
            _state.pubsub = _client(cache).pubsub()
            _state.pubsub.subscribe(channel(cache))
        except Exception as exc:
            log.warning("local pages: cannot subscribe to announcements: %s", exc)
            _reset()
            return False
    try:
        while (message := _state.pubsub.get_message(timeout=0)) is not None:
            if message["type"] == "subscribe":  # (re)subscribed: what came meanwhile is unknown
                _state.forget()
                _state.live = True
            elif message["type"] == "message":
                _state.forget()
    except Exception as exc:
        log.warning("local pages: announcements lost (%s); pages are read from Redis until re-subscribed", exc)
        _reset()
        return False
    return _state.live


def get(cache, key: str, names: tuple[str, ...]) -> tuple[str | None, object]:
    """(the local copy of page `key` if it is current, a ticket for keep() — None when
    copies cannot be kept now)."""
    with _lock:
        if not _sync(cache):
            return None, None
        ticket = (_state, _state.generation)
        entry = _state.pages.get(key)
        if entry is None or entry[2] < time.monotonic():
            return None, ticket
        current = tuple(_state.versions.get(name) for name in names)
        return (entry[1] if entry[0] == current else None), ticket


def keep(ticket, key: str, names: tuple[str, ...], versions: tuple[str, ...], html: str, seconds: int) -> None:
    """Keep a page read from the shared cache (or rendered) at `versions`, with the ticket
    get() gave BEFORE that read: an announcement read since then (by any thread) voids the
    ticket; one that came after it is still in the socket and drops this copy next time."""
    with _lock:
        if ticket is None or ticket != (_state, _state.generation) or not _state.live:
            return
        if len(_state.pages) >= MAX_PAGES:
            _state.pages.clear()
        for name, version in zip(names, versions, strict=True):
            if _state.versions.setdefault(name, version) != version:
                _state.forget()  # versions moved between two reads: keep nothing this time
                return
        _state.pages[key] = (versions, html, time.monotonic() + min(seconds, MAX_AGE))
