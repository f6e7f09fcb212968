"""Health checks of the platform itself (django-health-check; /health/ composes them
with the apps' own in casino/urls.py). Each raises ``ServiceUnavailable`` with a
message safe to show: no URL, no credential."""

from __future__ import annotations

import dataclasses
import datetime
import time

from celery import current_app
from django.conf import settings
from django.core.cache import cache
from django.http import HttpResponse
from health_check.base import HealthCheck
from health_check.exceptions import ServiceUnavailable

from casino.tasks import HEARTBEAT_KEY


@dataclasses.dataclass
class Broker(HealthCheck):
    """The Celery broker (Redis) accepts a connection. Eager mode has none."""

    timeout: datetime.timedelta = dataclasses.field(
        default=datetime.timedelta(seconds=3), repr=False
    )

    def run(self) -> None:
        if current_app.conf.task_always_eager:
            return
        try:
            with current_app.connection_for_write() as connection:
                connection.ensure_connection(max_retries=1, timeout=2)
        except Exception as exc:
            raise ServiceUnavailable("broker unreachable") from exc


@dataclasses.dataclass
class WorkerHeartbeat(HealthCheck):
    """A worker ran beat's heartbeat task recently: workers and beat are alive and
    the queue is moving."""

    def run(self) -> None:
        if current_app.conf.task_always_eager:
            return
        stamp = cache.get(HEARTBEAT_KEY)
        limit = settings.HEALTH_WORKER_HEARTBEAT_SECONDS
        if stamp is None:
            raise ServiceUnavailable("no worker heartbeat yet")
        age = time.time() - float(stamp)
        if age > limit:
            raise ServiceUnavailable(f"last worker heartbeat {int(age)} s ago")


def liveness(request) -> HttpResponse:
    """``/health/live``: the process answers (no dependency checked). Also the
    hello-world view the webhook benchmark compares ingestion with."""
    return HttpResponse("ok", content_type="text/plain")
