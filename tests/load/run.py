"""The load test over the real server (issue 14): ``make loadtest``, or

    python -m tests.load [--seconds 120] [--clients 4] [--workers 2]
        [--redis redis://127.0.0.1:6379/5] [--web-workers 2] [--web-threads 4]

Needs PostgreSQL (``DATABASE_URL``, migrated) and a Redis database of its own (it is
flushed before and after). Starts a local fake Stripe and fake Adyen (the servers of
``tests/``), gunicorn with DEBUG off and Celery workers (``casino.live_stack``, the
same environment as ``bench_webhooks``) pointed at them, a fresh brand
(``tests/load/brand.py``), then client processes for ``--seconds``
(``tests/load/clients.py``): one operator (who also sends the PSPs' refund and
transfer outcomes), the others players. Afterwards it waits for the workers to
drain the outbox and checks that every invariant holds, nothing was lost and no
request got a 5xx, prints per endpoint the count, p50/p95/p99 latency and the
statuses, and exits 1 when anything failed (2 when it could not run).
"""

from __future__ import annotations

import argparse
import math
import multiprocessing
import os
import secrets
import signal
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path


def arguments(argv: list[str] | None) -> argparse.Namespace:
    env = os.environ.get
    parser = argparse.ArgumentParser(prog="python -m tests.load")
    parser.add_argument(
        "--seconds", type=float, default=float(env("LOADTEST_SECONDS", 120))
    )
    parser.add_argument(
        "--clients",
        type=int,
        default=int(env("LOADTEST_CLIENTS", 4)),
        help="Client processes: one operator, the rest players (at least 2).",
    )
    parser.add_argument(
        "--workers",
        type=int,
        default=int(env("LOADTEST_WORKERS", 2)),
        help="Celery worker processes.",
    )
    parser.add_argument(
        "--players", type=int, default=4, help="New players per player process."
    )
    parser.add_argument(
        "--veterans", type=int, default=2, help="Veterans per player process."
    )
    parser.add_argument("--web-workers", type=int, default=2)
    parser.add_argument("--web-threads", type=int, default=4)
    parser.add_argument(
        "--redis",
        dest="redis_url",
        default=env("LOADTEST_REDIS_URL", "redis://127.0.0.1:6379/5"),
    )
    parser.add_argument("--drain-seconds", type=float, default=120)
    parser.add_argument("--seed", type=int, default=None)
    args = parser.parse_args(argv)
    if args.clients < 2:
        parser.error("--clients must be at least 2 (an operator and players)")
    return args


def main(argv: list[str] | None = None) -> int:
    args = arguments(argv)
    # Stopped from outside (timeout, CI): still stop gunicorn and the workers.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    # The sweep this process runs publishes to the workers' broker.
    os.environ["CELERY_BROKER_URL"] = args.redis_url
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "casino.settings")
    import django

    django.setup()
    import redis

    from casino import live_stack

    try:
        live_stack.database_url()
        broker = redis.Redis.from_url(args.redis_url, socket_timeout=3)
        broker.ping()
    except (RuntimeError, redis.RedisError) as exc:
        print(f"loadtest cannot run: {exc}", file=sys.stderr)
        return 2
    broker.flushdb()
    try:
        return LoadRun(args).run()
    finally:
        broker.flushdb()


class LoadRun:
    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.run_id = secrets.token_hex(3)
        self.seed = args.seed if args.seed is not None else secrets.randbelow(10**6)
        self.logs = Path(tempfile.mkdtemp(prefix=f"loadtest-{self.run_id}-"))

    def run(self) -> int:
        from casino import live_stack
        from tests.adyen.fake_adyen import FakeAdyen
        from tests.load.brand import load_brand_create
        from tests.payments.fake_stripe import FakeStripeServer

        args = self.args
        fake_adyen = FakeAdyen()
        fake_adyen.answer = adyen_answer
        with FakeStripeServer() as fake_stripe:
            brand = load_brand_create(
                run=self.run_id, veterans=args.veterans * (args.clients - 1)
            )
            fake_stripe.valid_keys.add(brand.stripe_secret_key)
            extra = {
                "STRIPE_API_BASE": fake_stripe.url,
                "STRIPE_MAX_NETWORK_RETRIES": "0",
                "ADYEN_CHECKOUT_BASE_URL": fake_adyen.url,
                "ADYEN_TRANSFERS_BASE_URL": fake_adyen.url,
                # Clients arrive through one proxy hop that names them, so per-IP
                # limits see each simulated person, not 127.0.0.1.
                "TRUSTED_PROXY_COUNT": "1",
                # A few simulated players act far faster than people do.
                "RATELIMIT_DEPOSIT": "120/m",
                "RATELIMIT_WITHDRAWAL": "60/m",
                "EMAIL_URL": "dummymail://",
            }
            port = live_stack.free_port()
            env = live_stack.production_env(
                redis_url=args.redis_url, port=port, extra=extra
            )
            live_stack.static_collect(env=env, static_root=self.logs / "static")
            extra["STATIC_ROOT"] = str(self.logs / "static")
            with (
                open(self.logs / "server.log", "w") as server_log,
                open(self.logs / "workers.log", "w") as worker_log,
            ):
                server = live_stack.server_start(
                    redis_url=args.redis_url,
                    port=port,
                    workers=args.web_workers,
                    threads=args.web_threads,
                    extra_env=extra,
                    log=server_log,
                )
                worker = None
                try:
                    worker = live_stack.worker_start(
                        env=server.env, concurrency=args.workers, log=worker_log
                    )
                    deadlocks_before = deadlocks()
                    results, elapsed = self.clients(server, brand)
                    drained, drain_seconds, swept = self.drain(brand)
                    self.deadlocks = deadlocks() - deadlocks_before
                finally:
                    if worker is not None:
                        live_stack.worker_stop(worker)
                    server.stop()
            transfers = [
                r
                for r in fake_adyen.requests
                if r["method"] == "POST" and r["path"] == "/transfers"
            ]
            fake_adyen.close()
            return self.report(
                brand=brand,
                results=results,
                elapsed=elapsed,
                drained=drained,
                drain_seconds=drain_seconds,
                swept=swept,
                transfers=transfers,
            )

    def clients(self, server, brand):
        from tests.load import client_process_setup
        from tests.load.clients import ClientSpec, client_run

        host, port = server.host_port
        players = self.args.clients - 1
        specs = [
            ClientSpec(
                number=0,
                role="operator",
                host=host,
                port=port,
                seconds=self.args.seconds,
                seed=self.seed,
                brand=brand,
            )
        ]
        per = self.args.veterans
        for number in range(1, players + 1):
            specs.append(
                ClientSpec(
                    number=number,
                    role="players",
                    host=host,
                    port=port,
                    seconds=self.args.seconds,
                    seed=self.seed + number,
                    brand=brand,
                    new_players=self.args.players,
                    veterans=brand.veterans[(number - 1) * per : number * per],
                )
            )
        print(
            f"load test {brand.slug} (seed {self.seed}): {self.args.seconds:g} s, "
            f"{len(specs)} client processes (1 operator, {players} x "
            f"{self.args.players} new players + {per} veterans), gunicorn DEBUG=false "
            f"{self.args.web_workers} x {self.args.web_threads} threads, "
            f"{self.args.workers} Celery worker processes; logs in {self.logs}",
            flush=True,
        )
        started = time.monotonic()
        context = multiprocessing.get_context("spawn")
        with context.Pool(len(specs), initializer=client_process_setup) as pool:
            # Bounded: a client that cannot start would otherwise be respawned
            # forever.
            results = pool.map_async(client_run, specs).get(
                timeout=self.args.seconds + 300
            )
        return results, time.monotonic() - started

    def drain(self, brand) -> tuple[dict[str, int], float, int]:
        """Wait until the workers moved every row; run the outbox sweep (what beat
        runs every minute) every few seconds for any nudge that was lost."""
        from payments.outbox import outbox_sweep
        from tests.load.checks import outbox_waiting

        started = time.monotonic()
        swept = 0
        last_sweep = started
        while True:
            waiting = outbox_waiting(tenant_id=brand.tenant_id)
            elapsed = time.monotonic() - started
            if not any(waiting.values()) or elapsed > self.args.drain_seconds:
                return waiting, elapsed, swept
            if time.monotonic() - last_sweep > 10:
                swept += sum(outbox_sweep(stale_seconds=10).values())
                last_sweep = time.monotonic()
            time.sleep(0.5)

    def report(
        self, *, brand, results, elapsed, drained, drain_seconds, swept, transfers
    ) -> int:
        from django.core.management import call_command

        from tests.load import checks
        from tests.load.session import Recorder

        recorder = Recorder()
        for result in results:
            recorder.merge(result.recorder)
        total = sum(len(v) for v in recorder.samples.values())
        server_errors = sum(
            n
            for counts in recorder.outcomes.values()
            for outcome, n in counts.items()
            if outcome[:1] == "5"
        )
        transport = sum(
            n
            for counts in recorder.outcomes.values()
            for outcome, n in counts.items()
            if outcome.startswith("transport")
        )
        print(
            f"\n{total} requests in {elapsed:.1f} s = {total / elapsed:.1f}/s; "
            f"5xx: {server_errors}; transport errors: {transport}"
        )
        print(latency_table(recorder))
        print(money_summary(brand=brand, results=results))
        for note in [note for r in results for note in r.notes][:10]:
            print(f"client note: {note}")
        print(
            f"PostgreSQL deadlocks detected during the run: {self.deadlocks} (each "
            "rolled back: a 409 CONCURRENT_UPDATE_CONFLICT to a client, or a task "
            "that retried)"
        )
        waiting = {k: v for k, v in drained.items() if v}
        print(
            f"drain: {'outbox empty' if not waiting else f'STILL WAITING {waiting}'} "
            f"{drain_seconds:.1f} s after the clients stopped "
            f"(sweep re-enqueued {swept})"
        )
        call_command("audit_seal", tenant=brand.slug, no_progress=True, stdout=_Null())
        paid = [pk for r in results for pk in r.paid_deposits]
        withdrawals = [pk for r in results for pk in r.withdrawals]
        verdicts = [
            ("the outbox drained", [f"waiting: {waiting}"] if waiting else []),
            (
                "ledger and payments invariants (zero-sum, cached = entries, "
                "no negative, held = open withdrawals, one credit per deposit)",
                checks.invariants(tenant_id=brand.tenant_id),
            ),
            (
                "every PSP event moved money at most once",
                checks.money_moved_once(tenant_id=brand.tenant_id),
            ),
            (
                "nothing lost (paid deposits completed, withdrawals stored)",
                checks.nothing_lost(
                    tenant_id=brand.tenant_id,
                    paid_deposits=paid,
                    withdrawals=withdrawals,
                ),
            ),
            (
                "paid withdrawals: one posting and one PSP transfer key each",
                checks.transfers_once(
                    tenant_id=brand.tenant_id, transfer_requests=transfers
                ),
            ),
            ("reconcile", checks.command_clean("reconcile", tenant=brand.slug)),
            (
                "audit chain verifies",
                checks.command_clean(
                    "audit_verify", tenant=brand.slug, no_progress=True
                ),
            ),
            (
                "no 5xx, no transport error",
                [f"{server_errors} 5xx, {transport} transport errors"]
                if server_errors or transport
                else [],
            ),
        ]
        print("checks:")
        failed = 0
        for name, problems in verdicts:
            print(f"  {'ok  ' if not problems else 'FAIL'} {name}")
            for line in problems[:20]:
                print(f"         {line}")
            failed += bool(problems)
        print(f"RESULT: {'PASS' if not failed else f'FAIL ({failed} checks)'}")
        return 1 if failed else 0


def adyen_answer(request: dict) -> tuple[int, dict]:
    """The fake Adyen's replies, each with its own id (tests/adyen/fake_adyen.py)."""
    path = request["path"]
    if path == "/paymentLinks":
        link = f"PL{secrets.token_hex(8).upper()}"
        return 201, {
            "id": link,
            "url": f"https://test.adyen.link/{link}",
            "status": "active",
            "amount": request["json"].get("amount"),
            "reference": request["json"].get("reference"),
        }
    if path == "/transfers":
        return 202, {"id": f"TR{secrets.token_hex(8).upper()}", "status": "received"}
    if path.startswith("/payments/") and path.endswith("/refunds"):
        return 201, {
            "pspReference": f"RF{secrets.token_hex(8).upper()}",
            "status": "received",
        }
    return 404, {"status": 404, "errorCode": "000", "message": f"no route {path}"}


def percentile(ordered: list[float], q: float) -> float:
    """Nearest rank on sorted values."""
    return ordered[max(0, math.ceil(q * len(ordered)) - 1)]


def latency_table(recorder) -> str:
    width = max(len(e) for e in recorder.samples) if recorder.samples else 10
    lines = [
        f"{'endpoint':<{width}}  {'count':>6}  {'p50 ms':>8}  {'p95 ms':>8}  "
        f"{'p99 ms':>8}  statuses"
    ]
    for endpoint in sorted(recorder.samples):
        ordered = sorted(recorder.samples[endpoint])
        statuses = ", ".join(
            f"{outcome} x{n}"
            for outcome, n in recorder.outcomes[endpoint].most_common()
        )
        lines.append(
            f"{endpoint:<{width}}  {len(ordered):>6}  {percentile(ordered, 0.5):>8.1f}  "
            f"{percentile(ordered, 0.95):>8.1f}  {percentile(ordered, 0.99):>8.1f}  "
            f"{statuses}"
        )
    return "\n".join(lines)


def deadlocks() -> int:
    """This database's deadlock count (pg_stat_database), any client's."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT deadlocks FROM pg_stat_database WHERE datname = current_database()"
        )
        return cursor.fetchone()[0]


def money_summary(*, brand, results) -> str:
    from payments.models import Refund, WebhookInbox
    from wallet.models import Deposit, PayoutAttempt, Withdrawal

    def states(model) -> str:
        counts = Counter(
            model.objects.filter(tenant_id=brand.tenant_id).values_list(
                "state" if model is not WebhookInbox else "status", flat=True
            )
        )
        return ", ".join(f"{state} {n}" for state, n in counts.most_common()) or "-"

    retried = WebhookInbox.objects.filter(
        tenant_id=brand.tenant_id, attempts__gt=1
    ).count()
    deliveries = sum(r.deliveries for r in results)
    repeats = sum(r.repeated_deliveries for r in results)
    return "\n".join(
        [
            f"deposits: {states(Deposit)}",
            f"withdrawals: {states(Withdrawal)}",
            f"refund legs: {states(Refund)}",
            f"bank transfers: {states(PayoutAttempt)}",
            f"PSP notifications: {deliveries} deliveries ({repeats} repeated); "
            f"inbox: {states(WebhookInbox)}; applied after a retry: {retried}",
        ]
    )


class _Null:
    def write(self, *args, **kwargs):
        pass

    def flush(self):
        pass
