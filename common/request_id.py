"""A request id on every log line, from the web request into the tasks it enqueues.

The id comes from the load balancer's ``X-Request-ID`` header when it is a sane
token, else it is made up here; the response echoes it. ``casino.celery`` carries
it in each task message's headers and sets it again while the task runs.
"""

from __future__ import annotations

import logging
import re
import uuid
from contextvars import ContextVar

_current: ContextVar[str] = ContextVar("request_id", default="")
_SANE = re.compile(r"^[A-Za-z0-9._:-]{1,100}$")
HEADER = "X-Request-ID"


def request_id_get() -> str:
    return _current.get()


def request_id_set(value: str):
    """Set the id for this context; returns the token to reset it with."""
    return _current.set(value)


def request_id_reset(token) -> None:
    _current.reset(token)


def request_id_new() -> str:
    return uuid.uuid4().hex


class RequestIdMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        given = request.headers.get(HEADER, "")
        request_id = given if _SANE.match(given) else request_id_new()
        token = request_id_set(request_id)
        try:
            response = self.get_response(request)
        finally:
            request_id_reset(token)
        response[HEADER] = request_id
        return response


class RequestIdLogFilter(logging.Filter):
    """Puts ``request_id`` on every record (empty outside a request or task)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if not getattr(record, "request_id", ""):
            record.request_id = request_id_get()
        return True
