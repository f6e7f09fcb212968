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

from payments.management.commands._ops import PspQueryCommand
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


class Command(PspQueryCommand):
    help = (
        "Ask the PSPs about payouts with an unknown or long-pending outcome and apply "
        "what they say; list manual payouts awaiting an operator."
    )
    run = staticmethod(payouts_reconcile)
    default_age = DEFAULT_PAYOUT_MAX_AGE
    age_help = (
        "Also ask about payouts sent more than N minutes ago and not yet "
        "settled (default: 60). Unknown outcomes are asked about at any age."
    )
    title = "Payouts"
    order = ORDER
    source = "reconcile_payouts"
