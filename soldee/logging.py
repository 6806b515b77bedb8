"""Structured logs: every line carries the request id (web) or the task id (Celery).

- `RequestIdMiddleware` takes the proxy's `X-Request-ID` (if it looks like one) or makes
  one, keeps it for the request in a context variable and echoes it in the response.
- `ContextFilter` adds `request_id`, `task_id` and `task_name` to every record (the task
  comes from Celery's current task, so no signal wiring is needed).
- `JsonFormatter` writes one JSON object per line (LOG_FORMAT=json), for the log shipper.

Wiring (settings): see docs/operations.md, "Logs".
"""

from __future__ import annotations

import contextvars
import json
import logging
import re
import uuid
from datetime import UTC, datetime

_request_id: contextvars.ContextVar[str] = contextvars.ContextVar("soldee_request_id", default="")
_VALID = re.compile(r"^[A-Za-z0-9._:-]{8,64}$")


def current_request_id() -> str:
    return _request_id.get()


class RequestIdMiddleware:
    header = "X-Request-ID"

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        incoming = request.headers.get(self.header, "")
        request_id = incoming if _VALID.match(incoming) else uuid.uuid4().hex
        request.request_id = request_id
        token = _request_id.set(request_id)
        try:
            response = self.get_response(request)
        finally:
            _request_id.reset(token)
        response.headers.setdefault(self.header, request_id)
        return response


def _current_task() -> tuple[str, str]:
    try:
        from celery import current_task
    except ImportError:  # pragma: no cover - celery is a dependency
        return "", ""
    task = current_task
    if not task or getattr(task.request, "id", None) is None:
        return "", ""
    return task.request.id or "", task.name or ""


class ContextFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = _request_id.get()
        record.task_id, record.task_name = _current_task()
        return True


class ClientErrorsWithoutTraceback(logging.Filter):
    """A 4xx that Django logs with its exception (a 403 PermissionDenied in the admin, a
    404) is a line, not a traceback: a staff member's crawl wrote 150 tracebacks."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.name == "django.request" and 400 <= getattr(record, "status_code", 500) < 500:
            record.exc_info, record.exc_text = None, None
        return True


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        data = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        for key in ("request_id", "task_id", "task_name"):
            value = getattr(record, key, "")
            if value:
                data[key] = value
        if record.exc_info:
            data["exc"] = self.formatException(record.exc_info)
        return json.dumps(data, ensure_ascii=False, default=str)
