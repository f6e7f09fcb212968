"""gunicorn settings for `make serve` (docs/deploy.md). Each value can be given in
the environment: GUNICORN_BIND, WEB_CONCURRENCY (processes), GUNICORN_THREADS,
GUNICORN_TIMEOUT, GUNICORN_MAX_REQUESTS."""

import multiprocessing
import os

bind = os.environ.get("GUNICORN_BIND", "127.0.0.1:8000")
workers = int(
    os.environ.get("WEB_CONCURRENCY", min(2 * multiprocessing.cpu_count() + 1, 9))
)
# Threads per process: requests wait on PostgreSQL, rarely on the CPU; no request
# waits on a PSP for longer than its budget (DEPOSIT_START_BUDGET_SECONDS).
worker_class = "gthread"
threads = int(os.environ.get("GUNICORN_THREADS", 4))
timeout = int(os.environ.get("GUNICORN_TIMEOUT", 30))
graceful_timeout = 20
keepalive = 5
# Recycle slowly leaking processes, staggered by the jitter; 0 never recycles (the
# benchmarks: a process booting mid-measurement is not the steady state measured).
max_requests = int(os.environ.get("GUNICORN_MAX_REQUESTS", 5000))
max_requests_jitter = max_requests // 10
accesslog = os.environ.get("GUNICORN_ACCESSLOG", "-") or None  # "" turns it off
forwarded_allow_ips = os.environ.get("FORWARDED_ALLOW_IPS", "127.0.0.1")
