"""A real Celery worker against Redis, as a subprocess of the test, on the test
database. Mandatory in CI (REQUIRE_REDIS=1); skipped with a reason elsewhere when no
Redis answers."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path

import pytest
from celery import current_app
from django.db import connection
from kombu import pools as kombu_pools

from casino import live_stack

ROOT = Path(__file__).resolve().parents[3]
REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/3")
REQUIRE_REDIS = os.environ.get("REQUIRE_REDIS", "").lower() in ("1", "true", "yes")


def redis_or_skip():
    import redis

    try:
        redis.Redis.from_url(REDIS_URL, socket_timeout=2).ping()
    except redis.RedisError as exc:
        if REQUIRE_REDIS:
            pytest.fail(
                f"REQUIRE_REDIS=1 but Redis at {REDIS_URL} is unreachable: {exc}"
            )
        pytest.skip(f"needs Redis at {REDIS_URL} (set TEST_REDIS_URL): {exc}")
    return redis.Redis.from_url(REDIS_URL)


def database_url() -> str:
    s = connection.settings_dict
    return (
        f"postgres://{s['USER']}@{s['HOST'] or '127.0.0.1'}:{s['PORT'] or 5432}"
        f"/{s['NAME']}"
    )


class _Lines:
    """A log sink that keeps each line in a list."""

    def __init__(self, lines: list[str]):
        self.lines = lines

    def write(self, line: str) -> None:
        self.lines.append(line)

    def flush(self) -> None:
        pass


class Worker:
    """``celery -A casino worker`` in its own process group; ``lines`` is its log."""

    def __init__(self, *, concurrency: int = 1, extra_env: dict | None = None):
        env = {
            k: v
            for k, v in os.environ.items()
            if not k.startswith(("CELERY_", "DJANGO_"))
        }
        env.update(
            DJANGO_SETTINGS_MODULE="casino.settings",
            DEBUG="true",
            DATABASE_URL=database_url(),
            CONN_MAX_AGE="0",
            CELERY_BROKER_URL=REDIS_URL,
            LOG_FORMAT="json",
            **(extra_env or {}),
        )
        self.lines: list[str] = []
        # casino.live_stack's worker (prefork, INFO), returned once it is ready;
        # its log lines land in ``lines``.
        self.process = live_stack.worker_start(
            env=env, concurrency=concurrency, log=_Lines(self.lines)
        )

    def wait_for(self, text: str, timeout: float = 30) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if any(text in line for line in self.lines):
                return
            if self.process.poll() is not None:
                break
            time.sleep(0.1)
        raise AssertionError(f"worker never logged {text!r}:\n{''.join(self.lines)}")

    def kill(self) -> None:
        """SIGKILL the whole worker (main process and pool children) at once."""
        os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=10)

    def stop(self) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.kill()


@pytest.fixture
def redis_broker(settings):
    """This process publishes to Redis instead of running tasks eagerly."""
    client = redis_or_skip()
    client.flushdb()
    app = current_app
    saved = {
        "task_always_eager": app.conf.task_always_eager,
        "broker_url": app.conf.broker_url,
    }
    app.conf.update(task_always_eager=False, broker_url=REDIS_URL)
    _forget_connections(app)
    yield client
    app.conf.update(**saved)
    _forget_connections(app)
    client.flushdb()


def _forget_connections(app) -> None:
    """Drop the app's (and kombu's global) connection and producer pools, so the
    next publish connects to the broker the configuration now names."""
    kombu_pools.reset()
    app._pool = None
    app.amqp._producer_pool = None


@pytest.fixture
def start_worker(redis_broker):
    workers: list[Worker] = []

    def start(**kwargs) -> Worker:
        worker = Worker(**kwargs)
        workers.append(worker)
        return worker

    yield start
    for worker in workers:
        worker.stop()


def wait_until(predicate, timeout: float = 30, interval: float = 0.1, explain=()):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(interval)
    raise AssertionError("condition not reached in time\n" + "".join(explain)[-4000:])
