"""The outbound webhook to the AI agent platform (grant / revoke access).

Each call: a timeout, an idempotency key the platform de-duplicates on, and an
HMAC-SHA256 signature of the raw body. Retries (with backoff) belong to the Celery task.
With no URL configured (embedded mode) access is granted locally.
"""

import hashlib
import hmac
import json

import httpx
from django.conf import settings

SIGNATURE_HEADER = "X-Soldee-Signature"


class PlatformError(Exception):
    pass


def is_configured() -> bool:
    return bool(settings.AGENT_PLATFORM_WEBHOOK_URL)


def send(*, action: str, customer_ref: str, plan_code: str, until: str | None,
         idempotency_key: str, extra: dict | None = None) -> str:
    """Tell the platform; returns its reference for the grant."""
    body = json.dumps({
        "action": action, "customer": customer_ref, "plan": plan_code, "until": until,
        "idempotency_key": idempotency_key, **(extra or {}),
    }, separators=(",", ":")).encode()
    signature = hmac.new(settings.AGENT_PLATFORM_WEBHOOK_SECRET.encode(), body, hashlib.sha256).hexdigest()
    try:
        response = httpx.post(
            settings.AGENT_PLATFORM_WEBHOOK_URL, content=body,
            headers={"Content-Type": "application/json", SIGNATURE_HEADER: f"sha256={signature}",
                     "Idempotency-Key": idempotency_key},
            timeout=settings.AGENT_PLATFORM_TIMEOUT_SECONDS,
        )
        response.raise_for_status()
    except httpx.HTTPError as exc:
        raise PlatformError(str(exc)) from exc
    try:
        return str(response.json().get("reference", ""))[:128]
    except ValueError:
        return ""
