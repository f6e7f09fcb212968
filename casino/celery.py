"""The Celery application: ``celery -A casino worker`` / ``celery -A casino beat``.

Configuration comes from Django settings (``CELERY_*``); task modules are each
app's ``tasks.py``. The request id of the web request that enqueued a task travels
in the message headers and is set again while the task runs, so its log lines
carry it.
"""

from __future__ import annotations

import os

from celery import Celery
from celery.signals import before_task_publish, task_postrun, task_prerun

from common.request_id import (
    request_id_get,
    request_id_new,
    request_id_reset,
    request_id_set,
)

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "casino.settings")

app = Celery("casino")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()

_tokens: dict[str, object] = {}


@before_task_publish.connect
def _request_id_into_headers(headers=None, **kwargs):
    if headers is not None and "request_id" not in headers:
        headers["request_id"] = request_id_get() or request_id_new()


@task_prerun.connect
def _request_id_from_headers(task_id=None, task=None, **kwargs):
    given = getattr(task.request, "request_id", None) or request_id_get()
    _tokens[task_id] = request_id_set(given or request_id_new())


@task_postrun.connect
def _request_id_cleared(task_id=None, **kwargs):
    token = _tokens.pop(task_id, None)
    if token is not None:
        request_id_reset(token)
