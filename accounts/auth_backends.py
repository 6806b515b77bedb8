"""Authentication backends that read the logged-in user from the shared cache.

Every request of a logged-in customer loads its user (django.contrib.auth.get_user) to
check the session; with the page cache, that SELECT was the last database query of a
cached personal-account page. These backends keep the user row in the shared cache
(settings.SOLDEE_USER_CACHE, on with a shared cache like the page cache):

- the row is stored with the user's cache VERSION read BEFORE the row was read from the
  database, and served only while that version is current; every save or delete of a user
  replaces the version (now, and again at commit). So a request that read the row just
  before a password change, a deactivation or a staff-flag change and stores it just
  after can never have it served: the check at the next request runs against the new row;
- the row is cached as read from the database, before any related object is loaded, and
  under the release fingerprint (a deploy that changes the model never unpickles old rows);
- if the cache cannot be written when a user is saved (three tries), that is logged as an
  error and the old row can be served for at most USER_CACHE_SECONDS; a write that
  bypasses save() (QuerySet.update on users — the portal has none) likewise;
- an unreachable cache is logged and the database answers, as without the cache.

The cached row holds what the database row holds (the password HASH among it), in the
same Redis that already holds the sessions.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable

from allauth.account.auth_backends import AuthenticationBackend as AllauthBackend
from django.conf import settings
from django.contrib.auth import BACKEND_SESSION_KEY, SESSION_KEY
from django.contrib.auth.backends import ModelBackend
from django.core.cache import cache
from django.utils.module_loading import import_string

from soldee import pagecache

log = logging.getLogger(__name__)

USER_CACHE_SECONDS = 60


def enabled() -> bool:
    return bool(getattr(settings, "SOLDEE_USER_CACHE", False))


def _row_key(user_id) -> str:
    return f"authuser:{pagecache.release()}:{user_id}"


def _version(user_id) -> str:
    return f"authuser:{user_id}"  # a version of soldee.pagecache's kind


def user_changed(sender, instance, **kwargs) -> None:
    """post_save / post_delete of the user model: a new version, so no row cached before
    this change is served again."""
    if enabled():
        pagecache.replace_versions(_version(instance.pk))


class CachedUserMixin:
    def get_user(self, user_id):
        if not enabled():
            return super().get_user(user_id)
        row_key = _row_key(user_id)
        try:
            found, (version,) = pagecache.fetch([row_key], (_version(user_id),))
            stored = found.get(row_key)
        except Exception:
            log.exception("user cache: read failed")
            return super().get_user(user_id)
        if stored is not None and version is not None and stored[0] == version:
            user = stored[1]
            return user if self.user_can_authenticate(user) else None
        user = super().get_user(user_id)  # read AFTER the version: see the module docstring
        if user is not None and version is not None:
            try:
                cache.set(row_key, (version, user), USER_CACHE_SECONDS)
            except Exception:
                log.exception("user cache: write failed")
        return user


class CachedModelBackend(CachedUserMixin, ModelBackend):
    pass


class CachedAllauthBackend(CachedUserMixin, AllauthBackend):
    pass


@functools.cache
def _is_cached_backend(path: str) -> bool:
    try:
        return issubclass(import_string(path), CachedUserMixin)
    except ImportError:
        return False


def with_user(also: Callable[[str], tuple[list[str], tuple[str, ...]]]):
    """View decorator (outside login_required): on a GET by a logged-in session, fetch the
    session's cached user together with `also(user_id)`'s cache keys and versions (the
    view's cached page) in ONE round trip — soldee.pagecache.read_ahead. The user is then
    checked exactly as without it (django.contrib.auth.get_user: the backend, the session
    hash, is_active); the view only finds its reads already answered."""
    def decorator(view):
        @functools.wraps(view)
        def wrapped(request, *args, **kwargs):
            session = request.session
            user_id = session.get(SESSION_KEY) if request.method == "GET" and enabled() else None
            if user_id is None or not _is_cached_backend(session.get(BACKEND_SESSION_KEY, "")):
                return view(request, *args, **kwargs)
            keys, names = also(str(user_id))
            with pagecache.read_ahead([_row_key(user_id), *keys], (_version(user_id), *names)):
                return view(request, *args, **kwargs)
        return wrapped
    return decorator
