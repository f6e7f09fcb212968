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

import atexit
import logging
import os
import queue
import threading
import time
from typing import Any

from celery import current_app
from django.conf import settings
from django.db import transaction

from common.request_id import request_id_get

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


def task_enqueue_batched(name: str, *, argument: str, value: Any) -> None:
    """Hand ``value`` to this process's publisher, which sends task ``name`` with
    ``{argument: [values...], "request_ids": [...]}`` for everything handed over
    while it lingers (``TASK_PUBLISH_LINGER_MS``, at most ``TASK_PUBLISH_BATCH``).

    For nudges on a hot path (a webhook delivery per request): one publish costs
    more than the rest of the request, and a batch costs about the same as one.
    The caller never waits on the broker. A value lost here (broker down, process
    killed before the publish) is only a lost nudge: its row is the outbox and the
    sweep sends it again. Eager mode and ``TASK_PUBLISH_IN_BACKGROUND=false``
    publish in the caller's thread (tests need the publish to have happened when
    the request returns)."""
    if current_app.conf.task_always_eager or not settings.TASK_PUBLISH_IN_BACKGROUND:
        task_enqueue(name, **{argument: [value], "request_ids": [request_id_get()]})
        return
    _publisher().hand_over(name, argument, value, request_id_get())


class _BatchPublisher:
    """One daemon thread per process: takes what request threads hand over, waits
    up to the linger for more, publishes one task per (name, argument)."""

    def __init__(self) -> None:
        self.pid = os.getpid()
        self.items: queue.SimpleQueue = queue.SimpleQueue()
        self.linger = settings.TASK_PUBLISH_LINGER_MS / 1000
        self.batch = max(1, settings.TASK_PUBLISH_BATCH)
        self.thread = threading.Thread(
            target=self._run, name="task-publisher", daemon=True
        )
        self.thread.start()

    def hand_over(self, name: str, argument: str, value: Any, request_id: str) -> None:
        self.items.put((name, argument, value, request_id))

    def _run(self) -> None:
        while True:
            taken = [self.items.get()]
            deadline = time.monotonic() + self.linger
            while len(taken) < self.batch:
                left = deadline - time.monotonic()
                try:
                    taken.append(
                        self.items.get(timeout=left)
                        if left > 0
                        else self.items.get_nowait()
                    )
                except queue.Empty:
                    break
            self._publish(taken)

    def flush(self) -> None:
        """Publish what is waiting, in this thread (at exit). Not in a forked child
        that inherited this handler: what the parent held is the parent's to send."""
        if self.pid != os.getpid():
            return
        taken = []
        while True:
            try:
                taken.append(self.items.get_nowait())
            except queue.Empty:
                break
        if taken:
            self._publish(taken)

    @staticmethod
    def _publish(taken: list[tuple[str, str, Any, str]]) -> None:
        groups: dict[tuple[str, str], tuple[list, list]] = {}
        for name, argument, value, request_id in taken:
            values, request_ids = groups.setdefault((name, argument), ([], []))
            values.append(value)
            request_ids.append(request_id)
        for (name, argument), (values, request_ids) in groups.items():
            task_enqueue(name, **{argument: values, "request_ids": request_ids})


_publisher_lock = threading.Lock()
_current_publisher: _BatchPublisher | None = None


def _publisher() -> _BatchPublisher:
    """This process's publisher; a forked child (gunicorn, Celery prefork) starts
    its own, since threads do not survive a fork."""
    global _current_publisher
    publisher = _current_publisher
    if publisher is not None and publisher.pid == os.getpid():
        return publisher
    with _publisher_lock:
        if _current_publisher is None or _current_publisher.pid != os.getpid():
            _current_publisher = _BatchPublisher()
            atexit.register(_current_publisher.flush)
        return _current_publisher
