"""The production cache backend (soldee.cache.RedisCache, CACHE_URL=redis://...) against a
real Redis: the operations the portal uses, one client per pool, and the page cache's
freshness through it (the rest of the suite runs the page cache on the local-memory cache)."""

import uuid

import pytest

from soldee import pagecache
from soldee.cache import RedisCache

pytestmark = [pytest.mark.redis, pytest.mark.django_db]


@pytest.fixture
def redis_cache(require_redis):
    import os

    cache = RedisCache(os.environ["CELERY_BROKER_URL"], {"KEY_PREFIX": f"test-{uuid.uuid4().hex}"})
    yield cache
    cache.close()


def test_the_operations_the_portal_uses_work_and_reuse_one_client(redis_cache):
    redis_cache.set("a", {"x": 1}, 30)
    assert redis_cache.get("a") == {"x": 1}
    assert redis_cache.add("a", 2, 30) is False and redis_cache.add("b", 2, 30) is True
    redis_cache.set_many({"c": 3, "d": (("v",), "<html>")}, 30)
    assert redis_cache.get_many(["a", "b", "c", "d", "missing"]) == {
        "a": {"x": 1}, "b": 2, "c": 3, "d": (("v",), "<html>")}
    assert redis_cache.delete("a") is True and redis_cache.get("a") is None
    client = redis_cache._cache
    assert client.get_client() is client.get_client()  # not a new redis.Redis per call
    redis_cache.delete_many(["b", "c", "d"])


def test_a_cached_page_goes_stale_when_its_version_is_bumped(redis_cache, rf, monkeypatch, settings):
    from django.contrib.auth.models import AnonymousUser
    from django.contrib.messages.storage.fallback import FallbackStorage
    from django.http import HttpResponse

    monkeypatch.setattr(pagecache, "cache", redis_cache)
    settings.SOLDEE_PAGE_CACHE = True
    renders = []

    def render():
        renders.append(1)
        return HttpResponse(f"<p>render {len(renders)}</p>")

    def get():
        request = rf.get("/pricing/")
        request.user = AnonymousUser()
        request.session = {}
        request._messages = FallbackStorage(request)
        return pagecache.page(request, name="t", versions_of=("plans",), render=render, timeout=30).content

    assert get() == b"<p>render 1</p>"
    assert get() == b"<p>render 1</p>" and len(renders) == 1  # served from Redis
    pagecache.bump("plans")
    assert get() == b"<p>render 2</p>"
    redis_cache.delete(pagecache._version_key("plans"))
