"""Every finding code a reconciliation can record, with its severity.

docs/reconciliation.md explains each one and what an operator does about it
(``tests/reconciliation/test_docs.py`` checks that every code here is documented).
The admin filters findings by these codes, so the filter costs no query."""

CRITICAL = "critical"
WARNING = "warning"
INFO = "info"

FINDING_CODES: dict[str, str] = {
    # reconcile: the ledger and the payments against it
    "ledger_invariant_violation": CRITICAL,
    "payments_invariant_violation": CRITICAL,
    # expire_stale_deposits
    "deposit_paid_not_credited": CRITICAL,
    "deposit_psp_unreachable": WARNING,
    "deposit_psp_query_failed": WARNING,
    "deposit_psp_status_unknown": WARNING,
    # reconcile_payouts
    "payout_unknown_no_reference": CRITICAL,
    "payout_awaiting_operator": INFO,
    "payout_psp_unreachable": WARNING,
    "payout_psp_query_failed": WARNING,
    # reconcile_psp: a settlement file against the ledger
    "missing_in_ledger": CRITICAL,
    "missing_at_psp": WARNING,
    "amount_mismatch": CRITICAL,
    "currency_mismatch": CRITICAL,
    "status_mismatch": CRITICAL,
    "fee_mismatch": WARNING,
    "payout_batch_mismatch": CRITICAL,
    "unknown_record_type": INFO,
}


def severity_of(code: str) -> str:
    return FINDING_CODES[code]


#: The commands that record findings (``Finding.source``).
FINDING_SOURCES = [
    "expire_stale_deposits",
    "reconcile",
    "reconcile_payouts",
    "reconcile_psp",
]
