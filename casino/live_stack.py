"""The real server and workers as child processes, for the runs that measure or
load them over loopback (``manage.py bench_webhooks``, ``make loadtest``).

gunicorn serves ``casino.wsgi`` with DEBUG off and the production-like environment
of ``production_env`` (this process's database, a Redis database for cache and
broker, fresh secret key, this process's field-encryption keys so the server
decrypts what this process encrypted); Celery workers run with the same environment.
Each child gets its own process group so it is stopped whole.
"""

from __future__ import annotations

import http.client
import os
import secrets
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from django.conf import settings
from django.db import connection

from common import crypto

ROOT = Path(__file__).resolve().parent.parent


@dataclass
class Server:
    url: str
    env: dict[str, str]
    process: subprocess.Popen

    @property
    def host_port(self) -> tuple[str, int]:
        host, port = self.url.split(":")
        return host, int(port)

    def stop(self) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            self.process.wait(timeout=30)


def database_url() -> str:
    s = connection.settings_dict
    if connection.vendor != "postgresql":
        raise RuntimeError("a run over the real server needs PostgreSQL (DATABASE_URL)")
    user = s["USER"] + (f":{s['PASSWORD']}" if s["PASSWORD"] else "")
    return (
        f"postgres://{user}@{s['HOST'] or '127.0.0.1'}:{s['PORT'] or 5432}/{s['NAME']}"
    )


def production_env(
    *, redis_url: str, port: int, extra: Mapping[str, str] | None = None
) -> dict[str, str]:
    """DEBUG off with this database; the field-encryption key this process uses, so
    the server decrypts the secrets this process saved. ``extra`` adds to it (a PSP
    base URL, a proxy hop...)."""
    keys = list(settings.FIELD_ENCRYPTION_KEYS) or [
        crypto.dev_key_from_secret(settings.SECRET_KEY)
    ]
    env = {
        k: v for k, v in os.environ.items() if not k.startswith(("CELERY_", "DJANGO_"))
    }
    env.update(
        DJANGO_SETTINGS_MODULE="casino.settings",
        DEBUG="false",
        SECRET_KEY=secrets.token_urlsafe(48),
        FIELD_ENCRYPTION_KEYS=",".join(keys),
        DATABASE_URL=database_url(),
        CACHE_URL=redis_url,
        CELERY_BROKER_URL=redis_url,
        ALLOWED_HOSTS="127.0.0.1",
        SECURE_SSL_REDIRECT="false",
        LOG_LEVEL="WARNING",
        GUNICORN_ACCESSLOG="",
        GUNICORN_BIND=f"127.0.0.1:{port}",
        PAYMENTS_SIMULATOR_ENABLED="false",
    )
    env.update(extra or {})
    return env


def static_collect(*, env: Mapping[str, str], static_root: Path) -> None:
    """With DEBUG off pages that name static files (the admin) need the manifest."""
    subprocess.run(  # noqa: S603 (our own interpreter and arguments)
        [sys.executable, "manage.py", "collectstatic", "--noinput", "-v", "0"],
        cwd=ROOT,
        env={**env, "STATIC_ROOT": str(static_root)},
        check=True,
        timeout=300,
    )


def server_start(
    *,
    redis_url: str,
    port: int,
    workers: int,
    threads: int,
    extra_env: Mapping[str, str] | None = None,
    log: IO | None = None,
) -> Server:
    env = production_env(redis_url=redis_url, port=port, extra=extra_env)
    env.update(
        WEB_CONCURRENCY=str(workers),
        GUNICORN_THREADS=str(threads),
        GUNICORN_MAX_REQUESTS="0",  # no process reboots in the middle of a round
    )
    process = subprocess.Popen(  # noqa: S603 (our own interpreter and arguments)
        [
            sys.executable,
            "-m",
            "gunicorn",
            "casino.wsgi",
            "-c",
            "casino/gunicorn_conf.py",
        ],
        cwd=ROOT,
        env=env,
        start_new_session=True,
        stdout=log,
        stderr=subprocess.STDOUT if log is not None else None,
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:  # e.g. the port is taken: never measure another
            raise RuntimeError(f"gunicorn exited ({process.returncode})")
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            conn.request("GET", "/health/live")
            if conn.getresponse().status == 200:
                break
        except OSError:
            time.sleep(0.3)
    else:
        process.kill()
        raise RuntimeError("gunicorn did not come up")
    return Server(url=f"127.0.0.1:{port}", env=env, process=process)


def worker_start(
    *,
    env: Mapping[str, str],
    concurrency: int,
    log: IO | None = None,
) -> subprocess.Popen:
    """A Celery worker, returned once it says its pool is ready (so a timed run
    does not time its start-up); its log goes to ``log`` when given. Celery logs
    at INFO: "ready." is an INFO line."""
    process = subprocess.Popen(  # noqa: S603 (our own interpreter and arguments)
        [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "casino",
            "worker",
            "--concurrency",
            str(concurrency),
            "--loglevel",
            "INFO",
            "--without-gossip",
            "--without-mingle",
            "--without-heartbeat",
        ],
        cwd=ROOT,
        env=dict(env),
        start_new_session=True,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    ready = threading.Event()

    def read_log() -> None:
        for line in process.stdout:
            if "ready." in line:
                ready.set()
            if log is not None:
                log.write(line)
                log.flush()

    threading.Thread(target=read_log, daemon=True).start()
    if not ready.wait(timeout=120):
        worker_stop(process)
        raise RuntimeError("the Celery worker did not come up")
    return process


def worker_stop(process: subprocess.Popen) -> None:
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=60)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]
