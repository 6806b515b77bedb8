"""Health, as JSON with no personal data and no secrets:

- GET /health/      readiness of this web replica, for the load balancer: 200 when the
                    database and the broker answer, 503 otherwise. Beat's freshness is
                    reported but does not count: a stopped scheduler must not take the
                    site out of rotation (and a new deployment is ready before beat's
                    first heartbeat).
- GET /health/all/  the same, and 503 also when beat's heartbeat or the renewal sweep's is
                    stale (no worker on the renewals queue): for the uptime monitor, which
                    pages someone when the scheduled jobs stop."""

import time

from django.conf import settings
from django.db import connection
from django.http import JsonResponse
from django.utils import timezone
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_safe

BEAT_STALE_SECONDS = 180


def _database() -> dict:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
        return {"ok": True}
    except Exception as exc:  # noqa: BLE001 - reported, not raised
        return {"ok": False, "error": type(exc).__name__}


def _broker() -> dict:
    from soldee.celery import app

    try:
        with app.connection_for_write() as conn:
            conn.ensure_connection(max_retries=1, timeout=2)
        return {"ok": True}
    except Exception as exc:  # noqa: BLE001
        return {"ok": False, "error": type(exc).__name__}


def _heartbeat(name: str, stale_seconds: float) -> dict:
    from .models import Heartbeat

    try:
        beat = Heartbeat.objects.filter(name=name).first()
    except Exception as exc:  # noqa: BLE001
        return {"ok": False, "error": type(exc).__name__}
    if beat is None:
        return {"ok": False, "age_seconds": None}
    age = (timezone.now() - beat.at).total_seconds()
    return {"ok": age <= stale_seconds, "age_seconds": round(age)}


def _beat() -> dict:
    check = _heartbeat("beat", BEAT_STALE_SECONDS)
    if not check["ok"]:
        # Beat sends the heartbeat as a task that a worker on the default queue writes.
        check["hint"] = "beat, or every worker on the default 'celery' queue, is down"
    return check


def _renewals() -> dict:
    """The renewal sweep ran lately: beat sends it every RENEWAL_SWEEP_SECONDS, and only a
    worker on the renewals queue runs it (docker-compose's worker-renewals)."""
    period = settings.CELERY_BEAT_SCHEDULE["renewal-sweep"]["schedule"]
    check = _heartbeat("renewals", max(BEAT_STALE_SECONDS, 3 * float(period)))
    if not check["ok"]:
        check["hint"] = "no worker takes the 'renewals' queue (docker-compose: worker-renewals), or beat is down"
    return check


# The answer of the last look, for a moment: the page is public, and each look connects to
# the database and the broker; a flood of requests must not become a flood of connections
# (found by the security review). Per process; a monitor polling every few seconds sees
# every change within this long.
CHECKS_KEPT_SECONDS = 2.0
_last: tuple[float, dict] = (float("-inf"), {})


def _checks() -> dict:
    global _last
    at, checks = _last
    now = time.monotonic()
    if now - at > CHECKS_KEPT_SECONDS:
        checks = {"database": _database(), "broker": _broker(), "beat": _beat(), "renewals": _renewals()}
        _last = (now, checks)
    return checks


def _report(*, counted: tuple[str, ...]) -> JsonResponse:
    checks = _checks()
    healthy = all(checks[name]["ok"] for name in counted)
    from .pagecache import release

    return JsonResponse({"ok": healthy, "checks": checks, "version": settings.SOLDEE_VERSION or f"code-{release()}"},
                        status=200 if healthy else 503)


@never_cache
@require_safe  # GET, and HEAD for uptime monitors
def health(request):
    return _report(counted=("database", "broker"))


@never_cache
@require_safe  # GET, and HEAD for uptime monitors
def health_all(request):
    return _report(counted=("database", "broker", "beat", "renewals"))
