"""Worker heartbeat: beat sends it every 30 s, a worker stamps the shared cache, and
/health/ fails when the stamp is older than HEALTH_WORKER_HEARTBEAT_SECONDS (no
worker, or no beat)."""

from __future__ import annotations

import time

from celery import shared_task
from django.core.cache import cache

HEARTBEAT_KEY = "casino:worker-heartbeat"


@shared_task(name="casino.worker_heartbeat", ignore_result=True)
def worker_heartbeat() -> None:
    cache.set(HEARTBEAT_KEY, time.time(), timeout=24 * 3600)
