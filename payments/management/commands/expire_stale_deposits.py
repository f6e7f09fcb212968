"""Settle deposits that have waited for their PSP longer than a checkout can live.

    python manage.py expire_stale_deposits [--older-than-minutes N] [--tenant SLUG]
                                           [--dry-run]

Asks each deposit's PSP for its status (no lock held) and applies a definite answer
through the wallet's deposit services: expired or unknown to the PSP → expired /
failed (no money moves); paid but never credited by a webhook → flagged for review,
never credited here. docs/operations.md says what to do with each finding. Exits 0
unless the run itself fails; an operator reads the ``PAID_NOT_CREDITED``,
``UNREACHABLE`` and ``ERROR`` lines.
"""

from datetime import timedelta

from django.core.management.base import BaseCommand, CommandError

from payments.management.commands._ops import report_write, tenant_id_for
from payments.reconciliation import DEFAULT_DEPOSIT_MAX_AGE, stale_deposits_expire

ORDER = [
    "expired",
    "expired_by_age",
    "failed",
    "paid_not_credited",
    "paid_already_flagged",
    "still_open",
    "unknown_status",
    "unreachable",
    "error",
    "settled_meanwhile",
]


class Command(BaseCommand):
    help = (
        "Expire or fail deposits still waiting for their PSP past the cut-off, after "
        "asking the PSP; flag the ones the PSP says were paid. Never credits."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--older-than-minutes",
            type=int,
            default=int(DEFAULT_DEPOSIT_MAX_AGE.total_seconds() // 60),
            metavar="N",
            help="Only deposits started more than N minutes ago (default: 1500, "
            "a Stripe Checkout Session's 24 hours plus one).",
        )
        parser.add_argument("--tenant", metavar="SLUG", help="One tenant only.")
        parser.add_argument(
            "--dry-run",
            action="store_true",
            help="Ask the PSPs and report, change nothing.",
        )

    def handle(self, *args, older_than_minutes, tenant=None, dry_run=False, **opts):
        if older_than_minutes < 0:
            raise CommandError("--older-than-minutes must be 0 or more.")
        tenant_id, scope = tenant_id_for(tenant)
        report = stale_deposits_expire(
            older_than=timedelta(minutes=older_than_minutes),
            tenant_id=tenant_id,
            dry_run=dry_run,
        )
        report_write(self, report, title="Stale deposits", scope=scope, order=ORDER)
