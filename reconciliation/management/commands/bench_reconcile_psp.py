"""reconcile_psp on a generated settlement file: rows per second and peak memory.

    python manage.py bench_reconcile_psp [--rows 1000000] [--tenant bench-big]

Writes a Stripe itemized payout reconciliation report of ``--rows`` charge lines for
the brand's completed deposits (cycling over them, so every line is looked up and
matches: a clean file), with a payout per day, then imports it exactly as
``reconcile_psp`` does and prints rows/s and the process's peak resident memory.
Target: peak memory < 300 MB. Run ``bench_admin_pages`` first to build the brand
(PostgreSQL scratch database); the import's fee postings and import record stay.
"""

import csv
import os
import resource
import tempfile
import time
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from common.actors import Actor
from reconciliation.settlement.importing import settlement_import
from tenants.models import Tenant
from wallet.models import Deposit

COLUMNS = [
    "balance_transaction_id",
    "created_utc",
    "currency",
    "gross",
    "fee",
    "net",
    "reporting_category",
    "source_id",
    "automatic_payout_id",
    "payment_intent_id",
]


def _major(minor: int) -> str:
    return f"{minor // 100}.{minor % 100:02d}"


class Command(BaseCommand):
    help = "Benchmark a settlement import of a generated file (rows/s, peak memory)."

    def add_arguments(self, parser):
        parser.add_argument("--rows", type=int, default=1_000_000)
        parser.add_argument("--tenant", default="bench-big")
        parser.add_argument("--keep-file", action="store_true")

    def handle(self, *args, rows, tenant, keep_file=False, **options):
        brand = Tenant.objects.filter(slug=tenant).first()
        if brand is None:
            raise CommandError(f"No tenant {tenant!r}: run bench_admin_pages first.")
        deposits = Deposit.objects.filter(
            tenant=brand, provider="stripe", state=Deposit.State.COMPLETED
        ).order_by("id")
        if not deposits.exists():
            raise CommandError(f"{tenant} has no completed Stripe deposits.")
        fd, name = tempfile.mkstemp(prefix="bench-settlement-", suffix=".csv")
        path = Path(name)
        started = time.monotonic()
        with os.fdopen(fd, "w", newline="") as out:
            writer = csv.writer(out)
            writer.writerow(COLUMNS)
            written = 0
            while written < rows:
                for reference, amount, completed in deposits.values_list(
                    "payment_reference", "amount_minor", "completed_at"
                ).iterator(chunk_size=10_000):
                    fee = 25 + amount * 14 // 1000
                    writer.writerow(
                        [
                            f"txn_bench_{written}",
                            completed.strftime("%Y-%m-%d %H:%M:%S"),
                            "eur",
                            _major(amount),
                            _major(fee),
                            _major(amount - fee),
                            "charge",
                            f"ch_bench_{written}",
                            f"po_bench_{completed:%Y%m%d}",
                            reference,
                        ]
                    )
                    written += 1
                    if written >= rows:
                        break
        size_mb = path.stat().st_size / 2**20
        self.stdout.write(
            f"Wrote {rows} rows ({size_mb:.0f} MiB) in "
            f"{time.monotonic() - started:.0f}s: {path}"
        )
        before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        started = time.monotonic()
        with path.open("rb") as stream:
            result = settlement_import(
                tenant_id=brand.pk,
                provider="stripe",
                stream=stream,
                file_name=path.name,
                actor=Actor.system("bench"),
            )
        seconds = time.monotonic() - started
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        record = result.settlement_import
        self.stdout.write(
            f"Imported {record.rows} rows in {seconds:.1f}s: "
            f"{record.rows / seconds:.0f} rows/s; findings new "
            f"{record.findings_new}, seen again {record.findings_seen_again}; "
            f"peak RSS {peak:.0f} MB (before the import {before:.0f} MB); "
            f"target < 300 MB"
        )
        if not keep_file:
            path.unlink()
