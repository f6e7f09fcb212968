"""Stripe's itemized reconciliation reports, read line by line.

Accepted: the **Payout reconciliation** report, itemized
(``payout_reconciliation.itemized.*``, one line per balance transaction settled in
an automatic payout), and the **Balance** report, itemized
(``balance_change_from_activity.itemized.*`` / ``balance.itemized.*``, which also has a
line per payout). Both are documented at https://docs.stripe.com/reports/payout-reconciliation
and https://docs.stripe.com/reports/balance; their columns are chosen per report
run, and we rely only on these (docs/reconciliation.md):

- ``balance_transaction_id`` (required): the line's identity;
- ``reporting_category`` (required): ``charge``, ``refund``, ``refund_failure``,
  ``dispute``, ``dispute_reversal``, ``fee``, ``payout``, ...;
- ``currency`` (required, lower case), ``gross``, ``fee``, ``net`` (required):
  decimal amounts in major units, signed as they move the Stripe balance;
- ``payment_intent_id``: the PaymentIntent of a charge, refund or dispute (our
  ``Deposit.payment_reference``);
- ``source_id``: the object behind the line (``re_…`` for a refund: our
  ``Refund.provider_reference``; ``po_…`` for a payout line);
- ``automatic_payout_id``: the payout the line settles in (Payout reconciliation
  report); a payout line of the Balance report is its own batch (``source_id``);
- ``created_utc``: when the balance transaction was created (UTC).
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import IO

from common.currency import to_minor
from common.errors import ApplicationError
from payments.providers.settlement import (
    RowKind,
    SettlementRow,
    csv_rows,
    invalid_line,
)

PROVIDER = "stripe"
REQUIRED = (
    "balance_transaction_id",
    "reporting_category",
    "currency",
    "gross",
    "fee",
    "net",
)

KINDS = {
    "charge": RowKind.PAYMENT,
    "refund": RowKind.REFUND,
    "refund_failure": RowKind.REFUND_REVERSAL,
    "dispute": RowKind.CHARGEBACK,
    "dispute_reversal": RowKind.CHARGEBACK_REVERSAL,
    "fee": RowKind.FEE,
    "payout": RowKind.PAYOUT,
}


def _created(value: str) -> datetime | None:
    value = value.strip()
    if not value:
        return None
    try:
        return datetime.fromisoformat(value).replace(tzinfo=UTC)
    except ValueError:
        return None


def parse(stream: IO[str]) -> Iterator[SettlementRow]:
    for line, row in csv_rows(stream, required=REQUIRED, provider=PROVIDER):
        category = row["reporting_category"].strip()
        currency = row["currency"].strip().upper()
        try:
            gross = to_minor(row["gross"].strip() or "0", currency)
            fee = to_minor(row["fee"].strip() or "0", currency)
            net = to_minor(row["net"].strip() or "0", currency)
        except ApplicationError as exc:
            raise invalid_line(PROVIDER, line, exc.message) from None
        kind = KINDS.get(category, RowKind.OTHER)
        source = row.get("source_id", "").strip()
        batch = row.get("automatic_payout_id", "").strip()
        if kind == RowKind.PAYOUT and not batch:
            batch = source
        yield SettlementRow(
            line=line,
            kind=kind,
            raw_type=category,
            payment_reference=row.get("payment_intent_id", "").strip(),
            modification_reference=source if kind != RowKind.PAYMENT else "",
            merchant_reference="",
            currency=currency,
            gross_minor=gross,
            # Stripe's fee column is the fee charged (positive), or a fee refunded
            # (negative); net = gross - fee.
            fee_minor=fee,
            net_minor=net,
            batch=batch,
            created_at=_created(row.get("created_utc", "")),
        )
