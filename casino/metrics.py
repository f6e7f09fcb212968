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

_registered: set[int] = set()


def metrics_view(collectors: Iterable[Collector] = ()):
    collectors = list(collectors)

    def view(request: HttpRequest) -> HttpResponse:
        token = settings.METRICS_TOKEN
        given = request.headers.get("Authorization", "").removeprefix("Bearer ")
        if token and not hmac.compare_digest(given.encode(), token.encode()):
            return HttpResponse(status=401)
        if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
            registry = CollectorRegistry()
            multiprocess.MultiProcessCollector(registry)
            for collector in collectors:
                registry.register(collector)
        else:
            registry = REGISTRY
            for collector in collectors:
                if id(collector) not in _registered:
                    REGISTRY.register(collector)
                    _registered.add(id(collector))
        return HttpResponse(generate_latest(registry), content_type=CONTENT_TYPE_LATEST)

    return view
