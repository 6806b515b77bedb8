"""Authentication backends that read the logged-in user from the shared cache.

Every request of a logged-in customer loads its user (django.contrib.auth.get_user) to
check the session; with the page cache, that SELECT was the last database query of a
cached personal-account page. These backends keep the user row in the shared cache for a
few minutes (settings.SOLDEE_USER_CACHE, on with a shared cache like the page cache):

- the row is cached as read from the database, before any related object is loaded, and
  under the release fingerprint (a deploy that changes the model never unpickles old rows);
- every save or delete of a user deletes it, now and again at commit (a password change,
  a deactivation, a staff flag take effect on the next request: the session hash check
  runs against the new row);
- a write that bypasses save() (QuerySet.update on users — the portal has none) would be
  seen within USER_CACHE_SECONDS;
- an unreachable cache is logged and the database answers, as without the cache.

The cached row holds what the database row holds (the password HASH among it), in the
same Redis that already holds the sessions.
"""

from __future__ import annotations

import logging

from allauth.account.auth_backends import AuthenticationBackend as AllauthBackend
from django.conf import settings
from django.contrib.auth.backends import ModelBackend
from django.core.cache import cache
from django.db import transaction

log = logging.getLogger(__name__)

USER_CACHE_SECONDS = 300


def enabled() -> bool:
    return bool(getattr(settings, "SOLDEE_USER_CACHE", False))


def _key(user_id) -> str:
    from soldee.pagecache import release

    return f"authuser:{release()}:{user_id}"


def user_changed(sender, instance, **kwargs) -> None:
    """post_save / post_delete of the user model: drop the cached row."""
    if not enabled():
        return

    def drop():
        try:
            cache.delete(_key(instance.pk))
        except Exception:
            log.exception("user cache: could not drop user %s", instance.pk)

    drop()
    if transaction.get_connection().in_atomic_block:
        transaction.on_commit(drop)


class CachedUserMixin:
    def get_user(self, user_id):
        if not enabled():
            return super().get_user(user_id)
        try:
            user = cache.get(_key(user_id))
        except Exception:
            log.exception("user cache: read failed")
            return super().get_user(user_id)
        if user is None:
            user = super().get_user(user_id)
            if user is not None:
                try:
                    cache.set(_key(user_id), user, USER_CACHE_SECONDS)
                except Exception:
                    log.exception("user cache: write failed")
            return user
        return user if self.user_can_authenticate(user) else None


class CachedModelBackend(CachedUserMixin, ModelBackend):
    pass


class CachedAllauthBackend(CachedUserMixin, AllauthBackend):
    pass
