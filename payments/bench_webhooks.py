"""Webhook ingestion benchmark over the real server (``manage.py bench_webhooks``).

gunicorn with DEBUG off serves the app; 8 keep-alive connections (4 processes × 2
threads) send Stripe deliveries, each with its own event id, signed with the
``stripe`` library (``stripe.WebhookSignature.generate_signature_header``, through
``payments.providers.stripe.client``), and
the same connections call ``/health/live`` (hello world) on the same server in
alternating rounds. Then end to end: Celery workers (1, then 2 processes) apply
deliveries that each complete one deposit, timed from the first send to the last
application, and every deposit must be credited exactly once with ``reconcile``
clean for the benchmark brand.
"""

from __future__ import annotations

import http.client
import json
import multiprocessing
import os
import secrets
import signal
import socket
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from django.conf import settings
from django.db import connection

from common import crypto
from common.actors import Actor
from payments.config.services import psp_config_save
from payments.models import PSPConfig, WebhookInbox
from payments.providers.stripe.client import webhook_signature_header
from tenants.models import Tenant
from tenants.services import tenant_create
from wallet import services as wallet
from wallet.models import Deposit, JournalTransaction

ROOT = Path(__file__).resolve().parent.parent
SLUG = "bench-webhooks"
ACTOR = Actor.system("bench_webhooks")
PROCESSES, THREADS = 4, 2  # 8 connections


@dataclass
class Server:
    url: str
    env: dict[str, str]
    process: subprocess.Popen

    def stop(self) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            self.process.wait(timeout=30)


def _database_url() -> str:
    s = connection.settings_dict
    if connection.vendor != "postgresql":
        raise RuntimeError("bench_webhooks needs PostgreSQL (DATABASE_URL)")
    user = s["USER"] + (f":{s['PASSWORD']}" if s["PASSWORD"] else "")
    return (
        f"postgres://{user}@{s['HOST'] or '127.0.0.1'}:{s['PORT'] or 5432}/{s['NAME']}"
    )


def production_env(*, redis_url: str, port: int) -> dict[str, str]:
    """DEBUG off with this database; the field-encryption key this process uses, so
    the server decrypts the benchmark config's secrets."""
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
        DATABASE_URL=_database_url(),
        CACHE_URL=redis_url,
        CELERY_BROKER_URL=redis_url,
        ALLOWED_HOSTS="127.0.0.1",
        SECURE_SSL_REDIRECT="false",
        LOG_LEVEL="WARNING",
        GUNICORN_ACCESSLOG="",
        GUNICORN_BIND=f"127.0.0.1:{port}",
        PAYMENTS_SIMULATOR_ENABLED="false",
    )
    return env


def server_start(*, redis_url: str, port: int, workers: int, threads: int) -> Server:
    env = production_env(redis_url=redis_url, port=port)
    env.update(WEB_CONCURRENCY=str(workers), GUNICORN_THREADS=str(threads))
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


def worker_start(*, env: dict[str, str], concurrency: int) -> subprocess.Popen:
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
        env={**env, "LOG_LEVEL": "INFO"},  # production's default; read below
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    ready = threading.Event()

    def read_log() -> None:  # Celery says "ready." once its pool can take tasks
        for line in process.stdout:
            if "ready." in line:
                ready.set()

    threading.Thread(target=read_log, daemon=True).start()
    if not ready.wait(timeout=120):
        worker_stop(process)
        raise RuntimeError("the Celery worker did not come up")
    return process


def worker_stop(process: subprocess.Popen) -> None:
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=60)


# --- load generation (child processes: no Django, only HTTP) ------------------------


def _client(args) -> tuple[int, int]:
    host, port, path, seconds, secret, bodies, tag = args
    ok = errors = 0
    lock = threading.Lock()

    def run(thread_no: int) -> None:
        nonlocal ok, errors
        conn = http.client.HTTPConnection(host, port, timeout=30)
        n = 0
        deadline = time.monotonic() + seconds if seconds else None
        mine = bodies[thread_no::THREADS] if bodies is not None else None
        while True:
            if mine is not None:
                if n >= len(mine):
                    break
                body = mine[n]
            elif deadline is not None and time.monotonic() >= deadline:
                break
            else:
                body = None
            if secret and body is None:  # ingestion: an event for no deposit
                body = json.dumps(
                    {
                        "id": f"evt_bench_{tag}_{thread_no}_{n}_{secrets.token_hex(4)}",
                        "object": "event",
                        "type": "checkout.session.completed",
                        "created": int(time.time()),
                        "data": {
                            "object": {
                                "id": "cs_bench_none",
                                "object": "checkout.session",
                            }
                        },
                    }
                )
            headers = {}
            if body is not None:
                headers = {
                    "Content-Type": "application/json",
                    "Stripe-Signature": webhook_signature_header(body, secret),
                }
                conn.request("POST", path, body=body.encode(), headers=headers)
            else:
                conn.request("GET", path)
            response = conn.getresponse()
            response.read()
            with lock:
                if response.status == 200:
                    ok += 1
                else:
                    errors += 1
            n += 1
        conn.close()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return ok, errors


def load(
    *,
    server: Server,
    path: str,
    seconds: float = 0,
    secret: str = "",
    bodies: list[str] | None = None,
    tag: str = "",
) -> tuple[float, int, int]:
    """Requests per second over 8 connections: for ``seconds``, or until
    ``bodies`` (split between the connections) are all sent."""
    host, port = server.url.split(":")
    chunks = (
        [bodies[i::PROCESSES] for i in range(PROCESSES)]
        if bodies is not None
        else [None] * PROCESSES
    )
    context = multiprocessing.get_context("fork")
    started = time.monotonic()
    with context.Pool(PROCESSES) as pool:
        results = pool.map(
            _client,
            [
                (host, int(port), path, seconds, secret, chunk, f"{tag}{i}")
                for i, chunk in enumerate(chunks)
            ],
        )
    elapsed = time.monotonic() - started
    ok = sum(r[0] for r in results)
    errors = sum(r[1] for r in results)
    return ok / elapsed, ok, errors


# --- the brand, its config and its deposits ----------------------------------------


def bench_config() -> tuple[PSPConfig, str]:
    tenant = Tenant.objects.filter(slug=SLUG).first() or tenant_create(
        actor=ACTOR, slug=SLUG, name="Webhook benchmark", default_currency="EUR"
    )
    secret = f"whsec_bench{secrets.token_hex(16)}"
    config = PSPConfig.objects.filter(tenant=tenant, provider="stripe").first()
    created = config is None
    config = config or PSPConfig(tenant=tenant, provider="stripe", mode="test")
    psp_config_save(
        actor=ACTOR,
        config=config,
        secret_key="sk_test_bench",
        webhook_secret=secret,
        created=created,
    )
    return config, secret


def bench_deposits(
    *, config: PSPConfig, count: int, run: str, players: int = 50
) -> list[Deposit]:
    """``count`` deposits at the PSP, spread over ``players`` new players as real
    traffic is (one player's deposits are applied one at a time, under the
    player's lock, whatever the number of workers)."""
    from casino.models import Player

    owners = [
        Player.objects.create(
            tenant=config.tenant,
            email=f"bench-{run}-{number}@bench.invalid",
            password="!bench-unusable",
            display_name="bench",
        )
        for number in range(min(players, count))
    ]
    deposits = []
    for number in range(count):
        deposit, _ = wallet.deposit_create(
            player=owners[number % len(owners)],
            provider="stripe",
            amount_minor=1000,
            currency="EUR",
            idempotency_key=f"bench-{run}-{number}",
            actor=ACTOR,
        )
        deposits.append(
            wallet.deposit_checkout_attach(
                deposit_id=deposit.pk,
                tenant_id=deposit.tenant_id,
                provider_reference=f"cs_bench_{deposit.pk}",
                checkout_url=f"https://checkout.stripe.com/c/pay/cs_bench_{deposit.pk}",
                actor=ACTOR,
            )
        )
    return deposits


def applied_exactly_once(deposits: list[Deposit]) -> list[str]:
    problems = []
    refs = {f"deposit:{d.pk}": d.pk for d in deposits}
    counts = dict.fromkeys(refs, 0)
    for ref in JournalTransaction.objects.filter(reference__in=list(refs)).values_list(
        "reference", flat=True
    ):
        counts[ref] += 1
    problems += [f"{ref} credited {n} times" for ref, n in counts.items() if n != 1]
    states = Deposit.objects.filter(pk__in=refs.values()).exclude(state="completed")
    problems += [f"deposit {d.pk} is {d.state}" for d in states]
    return problems


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def clear_ingestion_rows(*, tenant_id: int) -> None:
    """The ingestion rounds' deliveries name no deposit: drop them (and their queued
    messages) so the end-to-end run times only its own."""
    WebhookInbox.objects.filter(
        tenant_id=tenant_id, event_id__startswith="evt_bench_"
    ).delete()
