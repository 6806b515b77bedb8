"""Structured logs carry the request id (web) and the task id (Celery)."""

import json
import logging

from django.http import HttpResponse
from django.test import RequestFactory

from soldee.logging import ContextFilter, JsonFormatter, RequestIdMiddleware, current_request_id


def record(msg="hello") -> logging.LogRecord:
    rec = logging.LogRecord("soldee.test", logging.INFO, __file__, 1, msg, None, None)
    ContextFilter().filter(rec)
    return rec


def test_a_request_gets_an_id_that_every_log_line_carries():
    seen = {}

    def view(request):
        seen["line"] = json.loads(JsonFormatter().format(record()))
        return HttpResponse("ok")

    response = RequestIdMiddleware(view)(RequestFactory().get("/"))
    request_id = response["X-Request-ID"]
    assert len(request_id) == 32 and seen["line"]["request_id"] == request_id
    assert seen["line"]["message"] == "hello" and seen["line"]["level"] == "INFO"
    assert current_request_id() == ""  # reset after the request
    assert "request_id" not in json.loads(JsonFormatter().format(record()))


def test_the_proxys_request_id_is_kept_when_it_looks_like_one():
    middleware = RequestIdMiddleware(lambda request: HttpResponse(current_request_id()))
    good = middleware(RequestFactory().get("/", HTTP_X_REQUEST_ID="edge-1234abcd"))
    assert good.content == b"edge-1234abcd" and good["X-Request-ID"] == "edge-1234abcd"
    bad = middleware(RequestFactory().get("/", HTTP_X_REQUEST_ID="<script>\n"))
    assert bad.content != b"<script>\n" and len(bad["X-Request-ID"]) == 32


def test_a_task_id_is_added_inside_a_celery_task():
    from celery import shared_task

    @shared_task(name="tests.staff.log_line")
    def log_line():
        return json.loads(JsonFormatter().format(record("in task")))

    line = log_line.apply(task_id="task-123").get()
    assert line["task_id"] == "task-123" and line["task_name"] == "tests.staff.log_line"
