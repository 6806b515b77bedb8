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
subscribe confirmation on, and while Redis has answered its pings (every `PING_EVERY`
seconds) within `LIVENESS` seconds — a connection that died silently (a NAT or firewall
forgetting it) stops answering. A broken connection, a reconnection (messages may have
been missed meanwhile) or another process after a fork drops them, and the page is read
from Redis as without this module. A copy also lives at most `MAX_AGE` seconds. On only
with one Redis server as the cache (settings.SOLDEE_PAGE_CACHE_LOCAL, default on); a
per-process cache has nothing to save, and with read replicas a lagging replica could
hand back a version just replaced.
"""

from __future__ import annotations

import logging
import os
import threading
import time

from django.conf import settings
from django.utils.connection import ConnectionProxy

from .cache import RedisCache

log = logging.getLogger(__name__)

ANNOUNCED = frozenset({"plans", "documents"})
MAX_AGE = 60  # seconds a copy lives at most
PING_EVERY = 2  # seconds: the subscription is pinged this often while pages are served...
LIVENESS = 6  # ...and copies are trusted only while its last answer is at most this old
RETRY_AFTER = 5  # seconds before subscribing again after a failure
MAX_PAGES = 64


class _State:
    def __init__(self):
        self.pid = os.getpid()
        self.pubsub = None
        self.connecting = False
        self.retry_at = 0.0
        self.live = False  # the subscribe confirmation has been read since the last (re)connect
        self.heard_at = 0.0  # when Redis last answered on the subscription (confirmation, pong)
        self.pinged_at = 0.0
        self.generation = 0  # moves on every forget(): a read begun before it keeps nothing
        self.versions: dict[str, str] = {}
        self.pages: dict[str, tuple[tuple[str, ...], str, float]] = {}

    def forget(self) -> None:
        self.generation += 1
        self.versions.clear()
        self.pages.clear()

    def on_connect(self, connection) -> None:
        """redis-py (re)connected the subscription (a retry policy may do it inside a
        read): announcements may have been missed, so nothing is trusted until the new
        subscribe confirmation is read."""
        self.live = False
        self.forget()


_state = _State()
_lock = threading.Lock()
_now = time.monotonic  # (tests move it)


def _client(cache):
    if isinstance(cache, ConnectionProxy):  # django.core.cache.cache
        cache = cache._connections[cache._alias]
    if not isinstance(cache, RedisCache) or len(cache._servers) > 1:
        return None  # (with read replicas, a lagging replica could hand back an old version)
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


def _reset(retry: bool = False) -> None:
    """Drop the subscription and the copies (call with _lock held)."""
    global _state
    if _state.pubsub is not None and _state.pid == os.getpid():
        try:
            _state.pubsub.close()
        except Exception:  # closing a broken connection
            pass
    _state = _State()
    if retry:
        _state.retry_at = _now() + RETRY_AFTER


def _subscribe(cache, state: _State) -> None:
    """Open the subscription outside the lock (a slow or unreachable Redis must not hold
    up the other threads), then install it if `state` is still the current one."""
    try:
        pubsub = _client(cache).pubsub()
        pubsub.subscribe(channel(cache))
        pubsub.connection.register_connect_callback(state.on_connect)
    except Exception as exc:
        log.warning("local pages: cannot subscribe to announcements: %s", exc)
        pubsub = None
    with _lock:
        if state is not _state:
            if pubsub is not None:
                pubsub.close()
            return
        state.connecting = False
        if pubsub is None:
            _reset(retry=True)
        else:
            state.pubsub = pubsub


def _sync(now: float) -> bool:
    """Read what has been announced (without waiting); True when the local copies can be
    trusted now. Call with _lock held and a subscription open."""
    try:
        while (message := _state.pubsub.get_message(timeout=0)) is not None:
            if message["type"] == "subscribe":  # (re)subscribed: what came meanwhile is unknown
                _state.forget()
                _state.live, _state.heard_at = True, now
            elif message["type"] == "pong":
                _state.heard_at = now
            elif message["type"] == "message":
                _state.forget()
        if _state.live and now - _state.pinged_at >= PING_EVERY:
            _state.pubsub.ping()  # a connection that died silently stops answering
            _state.pinged_at = now
    except Exception as exc:
        log.warning("local pages: announcements lost (%s); pages are read from Redis until re-subscribed", exc)
        _reset(retry=True)
        return False
    return _state.live and now - _state.heard_at <= LIVENESS


def get(cache, key: str, names: tuple[str, ...]) -> tuple[str | None, object]:
    """(the local copy of page `key` if it is current, a ticket for keep() — None when
    copies cannot be kept now)."""
    now = _now()
    with _lock:
        if _state.pid != os.getpid():  # a forked child: the parent's socket is not ours
            _reset()
        if _state.pubsub is None:
            subscribe = not _state.connecting and now >= _state.retry_at
            _state.connecting = _state.connecting or subscribe
            state = _state
            trusted = False
        else:
            subscribe = False
            trusted = _sync(now)
        if trusted:
            ticket = (_state, _state.generation)
            entry = _state.pages.get(key)
            current = tuple(_state.versions.get(name) for name in names)
            if entry is not None and entry[2] >= now and entry[0] == current:
                return entry[1], ticket
            return None, ticket
    if subscribe:
        _subscribe(cache, state)
    return None, None


def keep(ticket, key: str, names: tuple[str, ...], versions: tuple[str, ...], html: str, seconds: int) -> None:
    """Keep a page read from the shared cache (or rendered) at `versions`, with the ticket
    get() gave BEFORE that read: an announcement read since then (by any thread) voids the
    ticket; one that came after it is still in the socket and drops this copy next time."""
    with _lock:
        if ticket is None or ticket != (_state, _state.generation):  # (a reconnection forgets too)
            return
        if len(_state.pages) >= MAX_PAGES:
            _state.pages.clear()
        for name, version in zip(names, versions, strict=True):
            if _state.versions.setdefault(name, version) != version:
                _state.forget()  # versions moved between two reads: keep nothing this time
                return
        _state.pages[key] = (versions, html, _now() + min(seconds, MAX_AGE))
