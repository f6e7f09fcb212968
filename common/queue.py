"""Enqueue a background task after the current transaction commits.

The database row is the outbox: a task is only ever a nudge to re-drive a row that
is already committed in a state that says what is left to do (an inbox row still
``received``, a payout attempt still ``pending``, a refund still ``pending``). So
an enqueue that fails (broker down, process killed between commit and publish) is
logged and dropped here, and the periodic sweep (``payments.outbox_sweep``) finds
the row later. Tasks are looked up by name, so services never import task modules.
In the embedded default (no broker, ``CELERY_TASK_ALWAYS_EAGER``) the task runs
in-process at once.
"""

from __future__ import annotations

import logging
from typing import Any

from celery import current_app
from django.db import transaction

logger = logging.getLogger(__name__)


def task_enqueue(name: str, **kwargs: Any) -> bool:
    """Publish task ``name`` now; False (logged) when it could not be sent."""
    app = current_app
    if name not in app.tasks:
        app.autodiscover_tasks(force=True)
    try:
        app.tasks[name].apply_async(kwargs=kwargs)
    except Exception:
        logger.exception("task.enqueue_failed", extra={"task": name, **kwargs})
        return False
    return True


def task_enqueue_on_commit(name: str, **kwargs: Any) -> None:
    """Publish task ``name`` once the current transaction commits (at once outside
    one). Never raises: the outbox sweep sends what was not sent."""
    transaction.on_commit(lambda: task_enqueue(name, **kwargs))
