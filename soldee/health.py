"""GET /health/: database, broker and beat freshness, for load balancers and monitoring.
200 when all are fine, 503 otherwise; no personal data, no secrets."""

from django.conf import settings
from django.db import connection
from django.http import JsonResponse
from django.utils import timezone
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

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


def _beat() -> dict:
    from .models import Heartbeat

    try:
        beat = Heartbeat.objects.filter(name="beat").first()
    except Exception as exc:  # noqa: BLE001
        return {"ok": False, "error": type(exc).__name__}
    if beat is None:
        return {"ok": False, "age_seconds": None}
    age = (timezone.now() - beat.at).total_seconds()
    return {"ok": age <= BEAT_STALE_SECONDS, "age_seconds": round(age)}


@never_cache
@require_GET
def health(request):
    checks = {"database": _database(), "broker": _broker(), "beat": _beat()}
    healthy = all(c["ok"] for c in checks.values())
    return JsonResponse({"ok": healthy, "checks": checks, "version": getattr(settings, "SOLDEE_VERSION", "")},
                        status=200 if healthy else 503)
