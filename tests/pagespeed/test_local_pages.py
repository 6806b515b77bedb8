"""Local copies of the pricing page (soldee/local_pages.py) against a real Redis: served
without a round trip while nothing changed, dropped by the announcement of a change before
the next request, and never trusted while the subscription is down."""

import os
import uuid

import pytest
import redis

from soldee import local_pages, pagecache
from soldee.cache import RedisCache

pytestmark = [pytest.mark.redis, pytest.mark.django_db]


@pytest.fixture
def shared(require_redis, monkeypatch, settings):
    cache = RedisCache(os.environ["CELERY_BROKER_URL"], {"KEY_PREFIX": f"test-{uuid.uuid4().hex}"})
    monkeypatch.setattr(pagecache, "cache", cache)
    settings.SOLDEE_PAGE_CACHE = True
    settings.SOLDEE_PAGE_CACHE_LOCAL = True
    local_pages._reset()
    reads = []
    real_get_many = cache.get_many
    monkeypatch.setattr(cache, "get_many", lambda keys, **kw: reads.append(keys) or real_get_many(keys, **kw))
    cache.reads = reads
    yield cache
    local_pages._reset()
    cache.close()


@pytest.fixture
def serve(rf):
    from django.contrib.auth.models import AnonymousUser
    from django.contrib.messages.storage.fallback import FallbackStorage
    from django.http import HttpResponse

    renders = []

    def render():
        renders.append(1)
        return HttpResponse(f"<p>render {len(renders)}</p>")

    def get(versions_of=("plans", "documents"), name="pricing"):
        request = rf.get("/pricing/")
        request.user = AnonymousUser()
        request.session = {}
        request._messages = FallbackStorage(request)
        return pagecache.page(request, name=name, versions_of=versions_of, render=render, timeout=300).content

    return get


def _settle():
    """Wait (up to 2 s) until Redis's answer on the subscription — its confirmation, a
    pong — can be read, as it can within microseconds on a real server."""
    pubsub = local_pages._state.pubsub
    if pubsub is not None:
        pubsub.connection.can_read(timeout=2)


def test_an_unchanged_page_is_served_from_the_process_without_a_round_trip(shared, serve):
    assert serve() == b"<p>render 1</p>"  # rendered; the subscription is being confirmed
    _settle()
    assert serve() == b"<p>render 1</p>"  # from Redis, and kept
    reads = len(shared.reads)
    assert serve() == serve() == b"<p>render 1</p>"
    assert len(shared.reads) == reads  # no read of the shared cache at all


def test_a_change_announced_by_another_process_shows_at_the_next_request(shared, serve):
    serve()
    _settle()
    serve()
    assert serve() == b"<p>render 1</p>"
    # What another process does on a plan save: new token written, then announced. It
    # does not touch this process's copies; only the subscription can tell it.
    pagecache.replace_versions("plans")
    assert serve() == b"<p>render 2</p>"
    assert serve() == b"<p>render 2</p>"
    pagecache.replace_versions("documents")
    assert serve() == b"<p>render 3</p>"


def test_copies_are_not_trusted_after_the_subscription_dropped_and_a_missed_change_shows(
    shared, serve, monkeypatch
):
    clock = [1000.0]
    monkeypatch.setattr(local_pages, "_now", lambda: clock[0])
    serve()
    _settle()
    serve()
    assert serve() == b"<p>render 1</p>"
    admin = redis.Redis.from_url(os.environ["CELERY_BROKER_URL"])
    assert admin.client_kill_filter(_type="pubsub") >= 1  # Redis restarted, a network cut...
    pagecache.cache.set(pagecache._version_key("plans"), "changed-while-cut", None)  # announcement lost
    reads = len(shared.reads)
    assert serve() == b"<p>render 2</p>"  # not the local copy: read from Redis, re-rendered
    assert len(shared.reads) > reads
    serve()
    assert local_pages._state.pubsub is None  # not at once: after a pause
    clock[0] += local_pages.RETRY_AFTER + 1
    serve()  # subscribes again
    _settle()
    serve()  # reads the confirmation, keeps a copy
    reads = len(shared.reads)
    assert serve() == b"<p>render 2</p>" and len(shared.reads) == reads  # re-subscribed: local again


def test_a_read_begun_before_an_announcement_keeps_no_copy(shared, serve):
    serve()
    _settle()
    html, ticket = local_pages.get(shared, "k", ("plans",))
    assert html is None and ticket is not None
    found, current = pagecache.fetch(["k"], ("plans",))  # the read, then a change lands...
    pagecache.replace_versions("plans")
    local_pages.get(shared, "other", ("plans",))  # ...and another thread reads its announcement
    local_pages.keep(ticket, "k", ("plans",), current, "<p>old</p>", 300)
    assert local_pages.get(shared, "k", ("plans",))[0] is None


def test_pages_of_unannounced_versions_and_the_setting_off_always_ask_redis(shared, serve, settings):
    for _ in range(3):
        serve(versions_of=("customer:7",), name="account")
        _settle()
    reads = len(shared.reads)
    serve(versions_of=("customer:7",), name="account")
    assert len(shared.reads) == reads + 1
    settings.SOLDEE_PAGE_CACHE_LOCAL = False
    serve()
    serve()
    reads = len(shared.reads)
    serve()
    assert len(shared.reads) == reads + 1


def test_nothing_is_kept_with_a_per_process_cache(settings):
    from django.core.cache.backends.locmem import LocMemCache

    assert not local_pages.usable(LocMemCache("x", {}), ("plans",))


def test_copies_are_not_trusted_once_the_subscription_stops_answering_pings(shared, serve, monkeypatch):
    clock = [1000.0]
    monkeypatch.setattr(local_pages, "_now", lambda: clock[0])
    serve()
    _settle()
    serve()
    reads = len(shared.reads)
    assert serve() == b"<p>render 1</p>" and len(shared.reads) == reads
    clock[0] += local_pages.PING_EVERY + 0.5
    serve()  # sends a ping
    _settle()
    clock[0] += local_pages.LIVENESS - 1
    serve()  # reads the pong: still trusted
    assert len(shared.reads) == reads
    # The connection dies silently (a firewall forgets it): pings go out, nothing comes back.
    monkeypatch.setattr(local_pages._state.pubsub, "ping", lambda *a: None)
    _settle()
    serve()  # the last answer (to the ping before) is read
    assert len(shared.reads) == reads
    clock[0] += local_pages.LIVENESS + 1
    assert serve() == b"<p>render 1</p>"
    assert len(shared.reads) == reads + 1  # read from Redis, not from the process


def test_a_reconnection_drops_the_copies_and_a_change_made_meanwhile_shows(shared, serve):
    serve()
    _settle()
    serve()
    assert serve() == b"<p>render 1</p>"
    connection = local_pages._state.pubsub.connection
    connection.disconnect()  # what a retry policy does inside a read...
    pagecache.cache.set(pagecache._version_key("plans"), "changed-meanwhile", None)  # not announced
    connection.connect()  # ...then connects and re-subscribes
    assert serve() == b"<p>render 2</p>"


def test_a_redis_that_refuses_the_subscription_is_asked_again_only_after_a_pause(shared, serve, monkeypatch):
    clock = [1000.0]
    monkeypatch.setattr(local_pages, "_now", lambda: clock[0])
    attempts = []

    class Refusing:
        def pubsub(self):
            attempts.append(1)
            raise redis.ConnectionError("refused")

    monkeypatch.setattr(local_pages, "_client", lambda cache: Refusing())
    assert serve() == serve() == b"<p>render 1</p>"  # pages still served (from Redis)
    assert len(attempts) == 1
    clock[0] += local_pages.RETRY_AFTER + 1
    serve()
    assert len(attempts) == 2


def test_no_copies_with_read_replicas(require_redis):
    url = os.environ["CELERY_BROKER_URL"]
    cache = RedisCache(f"{url},{url}", {})
    assert not local_pages.usable(cache, ("plans",))
