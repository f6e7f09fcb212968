"""Ledger throughput against pgbench on the same PostgreSQL server.

    python manage.py bench_ledger [--seconds 4] [--rounds 3] [--pgbench-scale 8]

Prints pgbench's TPC-B-like TPS at 1 and 8 clients, ledger transfers per second
through ``wallet.services.transaction_post`` at 1 and 8 worker processes, deposits
(PSP clearing → player) at 1 and 8 workers, their ratios, and the invariant check of
the benchmark tenant. Rounds alternate pgbench and service measurements; medians are
reported. Needs PostgreSQL.
"""

from __future__ import annotations

import os
import time

from django.core.management.base import BaseCommand, CommandError
from django.db import connection

from wallet import benchmark
from wallet.selectors import ledger_invariants_check

CONCURRENCY = (1, 8)


class Command(BaseCommand):
    help = "Benchmark the ledger's service layer against pgbench (PostgreSQL only)."

    def add_arguments(self, parser):
        parser.add_argument(
            "--seconds",
            type=float,
            default=4.0,
            help="Duration of each measurement (default 4; a full run of 3 rounds "
            "takes about 2 minutes).",
        )
        parser.add_argument(
            "--rounds", type=int, default=3, help="Rounds to take the median of."
        )
        parser.add_argument(
            "--pgbench-scale",
            type=int,
            default=8,
            help="pgbench scale factor (default 8: one branch per client at 8).",
        )
        parser.add_argument(
            "--tenant",
            default="ledger-bench",
            metavar="SLUG",
            help="The dedicated tenant the service rounds write to (created if "
            "missing; never an operator's brand).",
        )

    def handle(self, *args, **options):
        if connection.vendor != "postgresql":
            raise CommandError(
                "bench_ledger needs PostgreSQL: set DATABASE_URL=postgres://... "
                f"(this database is {connection.vendor})."
            )
        seconds, rounds = options["seconds"], options["rounds"]
        if seconds <= 0 or rounds < 1:
            raise CommandError("--seconds must be positive and --rounds at least 1.")
        run_id = f"{int(time.time())}-{os.getpid()}"
        out = self.stdout

        tenant = benchmark.bench_tenant_get_or_create(slug=options["tenant"])
        workers = max(CONCURRENCY)
        players = benchmark.bench_players(
            tenant=tenant, count=3 * workers, run_id=run_id
        )
        ids = [p.pk for p in players]
        transfer_pairs = [(ids[2 * i], ids[2 * i + 1]) for i in range(workers)]
        deposit_players = [(pid,) for pid in ids[2 * workers :]]

        with connection.cursor() as cursor:
            cursor.execute("SHOW server_version")
            (version,) = cursor.fetchone()
        load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
        out.write(
            f"Ledger benchmark: PostgreSQL {version}, database "
            f"{connection.settings_dict['NAME']}, tenant {tenant.slug}\n"
            f"{rounds} round(s) x {seconds:g} s per measurement, pgbench and the "
            f"service alternating; medians reported.\n"
            f"{os.cpu_count()} CPU(s), load average {load} at start. On a shared "
            f"machine figures vary by up to ~30 % between runs.\n"
        )

        pgbench_db = None
        if benchmark.pgbench_path() is None:
            out.write(
                self.style.WARNING(
                    "pgbench is not installed (it ships with the PostgreSQL client "
                    "packages): the TPC-B-like baseline and the ratios are skipped.\n"
                )
            )
        else:
            out.write(
                f"Initialising pgbench (scale {options['pgbench_scale']}) in scratch "
                f"database {benchmark.scratch_database_name()}...\n"
            )
            pgbench_db = benchmark.pgbench_setup(scale=options["pgbench_scale"])

        figures = benchmark.Figures()
        failures = 0
        try:
            for number in range(1, rounds + 1):
                line = []
                for n in CONCURRENCY:
                    if pgbench_db:
                        tps = benchmark.pgbench_tps(
                            database=pgbench_db, clients=n, seconds=seconds
                        )
                        figures.add(f"pgbench:{n}", tps)
                        line.append(f"pgbench c{n} {tps:,.0f}")
                    for kind, groups in (
                        ("transfer", transfer_pairs),
                        ("deposit", deposit_players),
                    ):
                        measured = benchmark.service_rate(
                            kind=kind,
                            player_groups=groups[:n],
                            seconds=seconds,
                            run_id=run_id,
                        )
                        failures += measured.failures
                        figures.add(f"{kind}:{n}", measured.rate)
                        figures.add(f"{kind}:{n}:python", measured.python_cpu_us)
                        figures.add(f"{kind}:{n}:database", measured.database_cpu_us)
                        line.append(f"{kind}s w{n} {measured.rate:,.0f}/s")
                out.write(f"round {number}: " + " | ".join(line) + "\n")
        finally:
            if pgbench_db:
                benchmark.pgbench_teardown()
                out.write(f"Dropped scratch database {pgbench_db}.\n")

        self._report(figures, failures)
        problems = ledger_invariants_check(tenant_id=tenant.pk)
        if problems:
            for problem in problems:
                out.write(f"VIOLATION {problem}\n")
            raise CommandError(
                f"Invariant check after the run: {len(problems)} violation(s)."
            )
        out.write(
            self.style.SUCCESS(
                f"Invariant check after the run (tenant {tenant.slug}): clean.\n"
            )
        )

    def _report(self, figures: benchmark.Figures, failures: int) -> None:
        def rate(name):
            value = figures.median(name)
            return "n/a" if value is None else f"{value:,.0f}"

        def ratio(numerator, denominator):
            a, b = figures.median(numerator), figures.median(denominator)
            return None if a is None or not b else a / b

        def shown(value):
            return "n/a" if value is None else f"{value:.2f}x"

        low, high = CONCURRENCY
        rows = [
            (
                "pgbench TPC-B-like (TPS)",
                rate(f"pgbench:{low}"),
                rate(f"pgbench:{high}"),
            ),
            (
                "ledger transfers (/s)",
                rate(f"transfer:{low}"),
                rate(f"transfer:{high}"),
            ),
            (
                "  ratio to pgbench",
                shown(ratio(f"transfer:{low}", f"pgbench:{low}")),
                shown(ratio(f"transfer:{high}", f"pgbench:{high}")),
            ),
            ("ledger deposits (/s)", rate(f"deposit:{low}"), rate(f"deposit:{high}")),
        ]
        out = self.stdout
        out.write(f"\nMedians        {'':14}{low:>6} client(s)  {high:>6} clients\n")
        for label, a, b in rows:
            out.write(f"{label:28}{a:>14}{b:>17}\n")
        scaling = ratio(f"deposit:{high}", f"deposit:{low}")
        versus = ratio(f"transfer:{high}", f"pgbench:{high}")
        out.write(f"deposits {high} workers vs {low}: {shown(scaling)}\n")
        for kind in ("transfer", "deposit"):
            for n in (low, high):
                python = figures.median(f"{kind}:{n}:python")
                database = figures.median(f"{kind}:{n}:database")
                if python is None:
                    continue
                backend = "n/a" if database is None else f"{database:,.0f}"
                out.write(
                    f"CPU per {kind} at {n} worker(s): Python {python:,.0f} us, "
                    f"PostgreSQL backend {backend} us\n"
                )
        out.write(f"failed service operations: {failures}\n")
        verdicts = [
            (
                f"transfers at {high} workers >= 1.0x pgbench at {high} clients",
                versus,
                1.0,
            ),
            (f"deposits at {high} workers >= 1.6x {low} worker", scaling, 1.6),
        ]
        for text, value, target in verdicts:
            if value is None:
                verdict = "not measured"
            else:
                verdict = "met" if value >= target else "NOT met"
            out.write(f"target: {text}: {verdict}\n")
