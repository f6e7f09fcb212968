"""Ledger throughput against pgbench on the same PostgreSQL server.

    python manage.py bench_ledger [--seconds 4] [--rounds 3] [--pgbench-scale N ...]

Prints pgbench's TPC-B-like TPS at 1 and 8 clients, at scale 1 (pgbench's built-in
default, where the issue's reference figures come from: 8 clients contend on one
branch row) and at scale 8 (one branch per client), ledger transfers per second
through ``wallet.services.transaction_post`` at 1 and 8 worker processes, deposits
(PSP clearing → player) at 1 and 8 workers, their ratios, and the invariant check of
the benchmark tenant, with the transfer ratio against each pgbench scale. Rounds
alternate pgbench and service measurements; medians are reported. Needs PostgreSQL.
"""

from __future__ import annotations

import os
import time

from django.core.management.base import BaseCommand, CommandError
from django.db import connection

from wallet import benchmark
from wallet.selectors import ledger_invariants_check

CONCURRENCY = (1, 8)
# pgbench's built-in default (``pgbench -i`` without -s, the reference
# figures) and one branch per client at 8 clients.
PGBENCH_SCALES = (1, 8)
SCALE_NOTES = {1: "built-in default", 8: "a branch per client"}


class Command(BaseCommand):
    help = "Benchmark the ledger's service layer against pgbench (PostgreSQL only)."

    def add_arguments(self, parser):
        parser.add_argument(
            "--seconds",
            type=float,
            default=4.0,
            help="Duration of each measurement (default 4; a full run of 3 rounds "
            "takes about 2.5 minutes).",
        )
        parser.add_argument(
            "--rounds", type=int, default=3, help="Rounds to take the median of."
        )
        parser.add_argument(
            "--pgbench-scale",
            type=int,
            action="append",
            dest="pgbench_scales",
            metavar="N",
            help="pgbench scale factor; repeat for several (default: 1 and 8, "
            "pgbench's built-in default and one branch per client at 8 clients).",
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
        scales = tuple(dict.fromkeys(options["pgbench_scales"] or PGBENCH_SCALES))
        if seconds <= 0 or rounds < 1 or min(scales) < 1:
            raise CommandError(
                "--seconds must be positive, --rounds and --pgbench-scale at least 1."
            )
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

        pgbench_dbs: dict[int, str] = {}
        if benchmark.pgbench_path() is None:
            out.write(
                self.style.WARNING(
                    "pgbench is not installed (it ships with the PostgreSQL client "
                    "packages): the TPC-B-like baseline and the ratios are skipped.\n"
                )
            )
        else:
            for scale in scales:
                out.write(
                    f"Initialising pgbench (scale {scale}) in scratch database "
                    f"{benchmark.scratch_database_name(scale)}...\n"
                )
                pgbench_dbs[scale] = benchmark.pgbench_setup(scale=scale)

        figures = benchmark.Figures()
        failures = 0
        try:
            for number in range(1, rounds + 1):
                line = []
                for n in CONCURRENCY:
                    for scale, database in pgbench_dbs.items():
                        tps = benchmark.pgbench_tps(
                            database=database, clients=n, seconds=seconds
                        )
                        figures.add(f"pgbench:s{scale}:{n}", tps)
                        line.append(f"pgbench s{scale} c{n} {tps:,.0f}")
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
            for scale, database in pgbench_dbs.items():
                benchmark.pgbench_teardown(scale=scale)
                out.write(f"Dropped scratch database {database}.\n")

        self._report(figures, failures, scales)
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

    def _report(
        self, figures: benchmark.Figures, failures: int, scales: tuple[int, ...]
    ) -> None:
        def rate(name):
            value = figures.median(name)
            return "n/a" if value is None else f"{value:,.0f}"

        def ratio(numerator, denominator):
            a, b = figures.median(numerator), figures.median(denominator)
            return None if a is None or not b else a / b

        def shown(value):
            return "n/a" if value is None else f"{value:.2f}x"

        def note(scale):
            return f", {SCALE_NOTES[scale]}" if scale in SCALE_NOTES else ""

        low, high = CONCURRENCY
        rows = [
            (
                f"pgbench TPC-B-like, scale {scale}{note(scale)} (TPS)",
                rate(f"pgbench:s{scale}:{low}"),
                rate(f"pgbench:s{scale}:{high}"),
            )
            for scale in scales
        ]
        rows.append(
            ("ledger transfers (/s)", rate(f"transfer:{low}"), rate(f"transfer:{high}"))
        )
        rows += [
            (
                f"  ratio to pgbench scale {scale}",
                shown(ratio(f"transfer:{low}", f"pgbench:s{scale}:{low}")),
                shown(ratio(f"transfer:{high}", f"pgbench:s{scale}:{high}")),
            )
            for scale in scales
        ]
        rows.append(
            ("ledger deposits (/s)", rate(f"deposit:{low}"), rate(f"deposit:{high}"))
        )
        out = self.stdout
        out.write(f"\nMedians{'':40}{low:>3} client(s){high:>8} clients\n")
        for label, a, b in rows:
            out.write(f"{label:48}{a:>12}{b:>16}\n")
        scaling = ratio(f"deposit:{high}", f"deposit:{low}")
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
                f"transfers at {high} workers >= 1.0x pgbench scale {scale} at "
                f"{high} clients",
                ratio(f"transfer:{high}", f"pgbench:s{scale}:{high}"),
                1.0,
            )
            for scale in scales
        ]
        verdicts.append(
            (f"deposits at {high} workers >= 1.6x {low} worker", scaling, 1.6)
        )
        for text, value, target in verdicts:
            if value is None:
                verdict = "not measured"
            else:
                verdict = "met" if value >= target else "NOT met"
            out.write(f"target: {text}: {verdict}\n")
