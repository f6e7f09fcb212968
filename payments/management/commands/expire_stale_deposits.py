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

from payments.management.commands._ops import PspQueryCommand
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


class Command(PspQueryCommand):
    help = (
        "Expire or fail deposits still waiting for their PSP past the cut-off, after "
        "asking the PSP; flag the ones the PSP says were paid. Never credits."
    )
    run = staticmethod(stale_deposits_expire)
    default_age = DEFAULT_DEPOSIT_MAX_AGE
    age_help = (
        "Only deposits started more than N minutes ago (default: 1500, "
        "a Stripe Checkout Session's 24 hours plus one)."
    )
    title = "Stale deposits"
    order = ORDER
    source = "expire_stale_deposits"
