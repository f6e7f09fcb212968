"""Find out what happened to payouts whose outcome we do not know.

    python manage.py reconcile_payouts [--older-than-minutes N] [--tenant SLUG]
                                       [--dry-run]

Looks at payout attempts of withdrawals still ``payout_pending``: ``unknown`` ones
(the PSP timed out or answered 5xx) and ones sent more than N minutes ago. Adyen
transfers are asked for (``GET /transfers/{id}``) and a known outcome is applied
through the services the transfer webhook uses (paid posts the hold; failed makes the
withdrawal ``payout_failed``, retried under the tenant's policy). Manual payouts are
listed for an operator. Unknown stays unknown, funds held. Attempts never sent are
dispatched. docs/operations.md says what to do with each finding.
"""

from datetime import timedelta

from django.core.management.base import BaseCommand, CommandError

from payments.management.commands._ops import report_write, tenant_id_for
from payments.reconciliation import DEFAULT_PAYOUT_MAX_AGE, payouts_reconcile

ORDER = [
    "paid",
    "failed",
    "dispatched",
    "still_pending",
    "awaiting_operator",
    "unknown_no_reference",
    "simulated",
    "unreachable",
    "error",
    "settled_meanwhile",
]


class Command(BaseCommand):
    help = (
        "Ask the PSPs about payouts with an unknown or long-pending outcome and apply "
        "what they say; list manual payouts awaiting an operator."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--older-than-minutes",
            type=int,
            default=int(DEFAULT_PAYOUT_MAX_AGE.total_seconds() // 60),
            metavar="N",
            help="Also ask about payouts sent more than N minutes ago and not yet "
            "settled (default: 60). Unknown outcomes are asked about at any age.",
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
        report = payouts_reconcile(
            older_than=timedelta(minutes=older_than_minutes),
            tenant_id=tenant_id,
            dry_run=dry_run,
        )
        report_write(self, report, title="Payouts", scope=scope, order=ORDER)
