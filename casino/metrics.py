"""``/metrics`` for Prometheus (prometheus-client).

Counters live in each process; with several processes (gunicorn workers, Celery
workers on the same host) set ``PROMETHEUS_MULTIPROC_DIR`` to one empty directory
for all of them and this view adds them up (prometheus-client's multiprocess mode).
Gauges computed at scrape time (backlogs, ages, queue depth) come from the
collectors passed in by casino/urls.py. With ``METRICS_TOKEN`` set, a scrape must
send ``Authorization: Bearer <token>``.
"""

from __future__ import annotations

import hmac
import os
from collections.abc import Iterable

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    generate_latest,
    multiprocess,
)
from prometheus_client.registry import Collector


class _ThisProcess(Collector):
    """The process's own counters (prometheus-client's default registry), read at
    scrape time. The scrape-time collectors are never registered there: a URLconf
    built twice (tests, a reload) would register a second copy of each and fail."""

    def collect(self):
        return REGISTRY.collect()


def metrics_view(collectors: Iterable[Collector] = ()):
    collectors = list(collectors)

    def view(request: HttpRequest) -> HttpResponse:
        token = settings.METRICS_TOKEN
        given = request.headers.get("Authorization", "").removeprefix("Bearer ")
        if token and not hmac.compare_digest(given.encode(), token.encode()):
            return HttpResponse(status=401)
        registry = CollectorRegistry()
        if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
            multiprocess.MultiProcessCollector(registry)
        else:
            registry.register(_ThisProcess())
        for collector in collectors:
            registry.register(collector)
        return HttpResponse(generate_latest(registry), content_type=CONTENT_TYPE_LATEST)

    return view
