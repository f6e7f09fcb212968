"""Player funds at a cut-off instant, per currency, as CSV: the figure a regulator's
player-funds (liability) report asks for.

    python manage.py liability_report --tenant SLUG --at 2026-11-30T23:59:59+00:00
                                      [--output PATH]

Available balances plus the funds held for withdrawals, from ``balance_after_minor``
on each player account's last entry at or before ``--at``; equal to the sum of the
ledger's player entries at that instant. Reads from the replica when one is
configured. Amounts in major units, and in minor units for machines.
"""

import csv
import sys
from datetime import datetime

from django.core.management.base import BaseCommand, CommandError

from common.currency import to_major
from reconciliation.selectors import liability_at
from tenants.models import Tenant


class Command(BaseCommand):
    help = "Player balances plus held withdrawals per currency at an instant (CSV)."

    def add_arguments(self, parser):
        parser.add_argument("--tenant", required=True, metavar="SLUG")
        parser.add_argument(
            "--at", required=True, metavar="ISO-TIME", help="With a UTC offset."
        )
        parser.add_argument("--output", metavar="PATH", help="Default: stdout.")

    def handle(self, *args, tenant, at, output=None, **options):
        brand = Tenant.objects.filter(slug=tenant).first()
        if brand is None:
            raise CommandError(f"No tenant with slug {tenant!r}.")
        try:
            moment = datetime.fromisoformat(at)
        except ValueError:
            raise CommandError(f"--at {at!r} is not an ISO 8601 time.") from None
        if moment.tzinfo is None:
            raise CommandError("--at needs a UTC offset, e.g. 2026-11-30T23:59:59Z.")
        rows = liability_at(tenant_id=brand.pk, at=moment)
        stream = open(output, "w", newline="") if output else None  # noqa: SIM115
        try:
            writer = csv.writer(stream or self.stdout)
            writer.writerow(
                [
                    "tenant",
                    "at",
                    "currency",
                    "players",
                    "available",
                    "held_for_withdrawals",
                    "total",
                    "available_minor",
                    "held_minor",
                    "total_minor",
                ]
            )
            for row in rows:
                writer.writerow(
                    [
                        brand.slug,
                        moment.isoformat(),
                        row.currency,
                        row.players,
                        to_major(row.available_minor, row.currency),
                        to_major(row.held_minor, row.currency),
                        to_major(row.total_minor, row.currency),
                        row.available_minor,
                        row.held_minor,
                        row.total_minor,
                    ]
                )
        finally:
            if stream:
                stream.close()
        if output:
            sys.stderr.write(f"Wrote {len(rows)} currency row(s) to {output}\n")
