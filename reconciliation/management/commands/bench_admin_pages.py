"""Admin pages at a million rows against the same pages at a thousand.

    python manage.py bench_admin_pages [--players 100000] [--rounds 5]

Builds (or reuses) ``bench-big`` (100,000 players: 1,000,000 ledger entries,
1,100,000 audit events, 500,000 deposits) and ``bench-1k`` (100 players: 1,000
entries) in SQL (reconciliation/benchmark/data.py), then prints, per page (every
changelist, the player page, the finance dashboard), the median time for an
operator of each brand and the ratio. Target: ratio <= 2 everywhere. PostgreSQL
only; use a scratch database (the brands stay for the next run).
"""

import time
from datetime import timedelta

from django.core.management.base import BaseCommand, CommandError
from django.db import connection, transaction

from reconciliation.benchmark.data import bench_tenant_build
from reconciliation.benchmark.pages import pages_benchmark
from wallet.services import account_checkpoints_take

TARGET = 2.0


class Command(BaseCommand):
    help = "Median admin page times for a 1M-entry brand vs a 1k-entry brand."

    def add_arguments(self, parser):
        parser.add_argument("--players", type=int, default=100_000)
        parser.add_argument("--small-players", type=int, default=100)
        parser.add_argument("--rounds", type=int, default=7)

    def handle(self, *args, players, small_players, rounds, **options):
        if connection.vendor != "postgresql":
            raise CommandError("The benchmark needs PostgreSQL (DATABASE_URL).")
        started = time.monotonic()

        def step(name):
            self.stdout.write(f"  {name} ({time.monotonic() - started:.0f}s)")

        self.stdout.write("Data set (built once, then reused):")
        small = bench_tenant_build(
            slug="bench-1k", players=small_players, progress=step
        )
        big = bench_tenant_build(slug="bench-big", players=players, progress=step)
        # As the periodic checkpoint_system_balances would have (system balances
        # are then the checkpoint plus the entries since).
        with transaction.atomic(durable=True):
            account_checkpoints_take(margin=timedelta(0))
        self.stdout.write(f"ready after {time.monotonic() - started:.0f}s")
        timings = pages_benchmark(small=small, big=big, rounds=rounds)
        self.stdout.write(
            f"{'page (median of ' + str(rounds) + ')':40} {'1k ms':>8} {'1M ms':>8} "
            f"{'ratio':>6}   {'1k sql':>7} {'1M sql':>7}"
        )
        for t in timings:
            flag = "" if t.ratio <= TARGET else "  > target"
            self.stdout.write(
                f"{t.page:40} {t.small_ms:8.1f} {t.big_ms:8.1f} {t.ratio:6.2f}   "
                f"{t.small_sql_ms:7.1f} {t.big_sql_ms:7.1f}{flag}"
            )
        worst = max(timings, key=lambda t: t.ratio)
        self.stdout.write(
            f"worst ratio {worst.ratio:.2f} ({worst.page}); target <= {TARGET}"
        )
