"""Webhook ingestion and end-to-end benchmark over gunicorn (payments/bench_webhooks.py).

    python manage.py bench_webhooks [--seconds 5] [--rounds 3] [--events 400]
        [--redis redis://127.0.0.1:6379/3] [--port N]

Needs PostgreSQL (DATABASE_URL) and Redis (its database is flushed: give it one of
its own). Prints, per round, hello-world and webhook requests per second over 8
connections and their ratio (target >= 0.3), then end-to-end acknowledged -> applied
throughput with 1 and 2 worker processes, the exactly-once check and reconcile.
"""

from __future__ import annotations

import json
import statistics
import time
import uuid

import redis
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError

from casino import live_stack
from payments import bench_webhooks as bench
from payments.models import WebhookInbox
from payments.simulator.events import event_for


class Command(BaseCommand):
    help = (
        "Benchmark webhook ingestion and application over gunicorn (PostgreSQL, Redis)."
    )

    def add_arguments(self, parser):
        parser.add_argument("--seconds", type=float, default=5.0)
        parser.add_argument("--rounds", type=int, default=3)
        parser.add_argument(
            "--events",
            type=int,
            default=400,
            help="Deliveries per end-to-end run (one deposit each).",
        )
        parser.add_argument(
            "--redis", dest="redis_url", default="redis://127.0.0.1:6379/3"
        )
        parser.add_argument("--port", type=int, default=0)
        parser.add_argument("--web-workers", type=int, default=2)
        parser.add_argument("--web-threads", type=int, default=4)

    def handle(
        self,
        *args,
        seconds,
        rounds,
        events,
        redis_url,
        port,
        web_workers,
        web_threads,
        **options,
    ):
        broker = _redis(redis_url)
        broker.flushdb()
        config, secret = bench.bench_config()
        server = live_stack.server_start(
            redis_url=redis_url,
            port=port or live_stack.free_port(),
            workers=web_workers,
            threads=web_threads,
        )
        path = f"/api/v1/webhooks/stripe/{config.endpoint_id}/"
        say = self.stdout.write
        try:
            say(
                f"gunicorn DEBUG=false, {web_workers} processes x {web_threads} "
                f"threads; 8 client connections; {seconds:g} s per measurement"
            )
            ratios = []
            for number in range(1, rounds + 1):
                hello, _, hello_errors = bench.load(
                    server=server, path="/health/live", seconds=seconds
                )
                ingest, accepted, errors = bench.load(
                    server=server,
                    path=path,
                    seconds=seconds,
                    secret=secret,
                    tag=f"r{number}-",
                )
                ratios.append(ingest / hello)
                say(
                    f"round {number}: hello-world {hello:7.0f}/s  webhooks "
                    f"{ingest:7.0f}/s  ratio {ingest / hello:.2f}x  "
                    f"({accepted} acknowledged, {errors + hello_errors} errors)"
                )
            median = statistics.median(ratios)
            verdict = "meets" if median >= 0.3 else "MISSES"
            say(
                f"ingestion / hello-world, median of {rounds}: {median:.2f}x "
                f"({verdict} the 0.3x target)"
            )
            broker.flushdb()
            bench.clear_ingestion_rows(tenant_id=config.tenant_id)

            problems_total = 0
            for workers in (1, 2):
                run = uuid.uuid4().hex[:8]
                deposits = bench.bench_deposits(config=config, count=events, run=run)
                bodies = [
                    json.dumps(event_for(deposit, "checkout.session.completed"))
                    for deposit in deposits
                ]
                worker = live_stack.worker_start(env=server.env, concurrency=workers)
                try:
                    started = time.monotonic()
                    rate, acknowledged, errors = bench.load(
                        server=server, path=path, secret=secret, bodies=bodies
                    )
                    ids = [d.pk for d in deposits]
                    deadline = time.monotonic() + 600
                    while time.monotonic() < deadline:
                        done = WebhookInbox.objects.filter(
                            deposit_id__in=ids, status="processed"
                        ).count()
                        if done >= len(ids):
                            break
                        time.sleep(0.2)
                    elapsed = time.monotonic() - started
                finally:
                    live_stack.worker_stop(worker)
                problems = bench.applied_exactly_once(deposits)
                problems_total += len(problems)
                say(
                    f"end to end, {workers} worker process(es): {events} deliveries "
                    f"acknowledged at {rate:.0f}/s ({errors} errors), all applied in "
                    f"{elapsed:.1f} s = {done / elapsed:.0f} applied/s; exactly once: "
                    f"{'yes' if not problems else '; '.join(problems[:5])}"
                )
            try:
                call_command("reconcile", tenant=bench.SLUG, stdout=_Quiet())
                say(f"reconcile {bench.SLUG}: clean")
            except CommandError as exc:
                problems_total += 1
                say(f"reconcile {bench.SLUG}: {exc}")
        finally:
            server.stop()
            broker.flushdb()
        if problems_total:
            raise CommandError(f"{problems_total} problem(s): see above")


class _Quiet:
    def write(self, *args, **kwargs):
        pass

    def flush(self):
        pass


def _redis(url: str):
    client = redis.Redis.from_url(url, socket_timeout=3)
    try:
        client.ping()
    except redis.RedisError as exc:
        raise CommandError(f"Redis at {url} is unreachable: {exc}") from exc
    return client
