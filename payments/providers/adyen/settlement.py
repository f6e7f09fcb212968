"""Adyen's Settlement details report, read line by line.

https://docs.adyen.com/reporting/settlement-detail-report: one line per booking in a
payable batch, with a ``Type`` (journal type). We rely on these columns
(docs/reconciliation.md):

- ``Type`` (required): ``Settled``, ``Refunded``, ``RefundedReversed``,
  ``Chargeback``, ``SecondChargeback``, ``ChargebackReversed``, ``Fee``,
  ``MerchantPayout``, ... (other journal types are reported as ``other``);
- ``Psp Reference``: Adyen's reference of the payment (our
  ``Deposit.payment_reference``);
- ``Merchant Reference``: our reference (``deposit:<id>``);
- ``Modification Reference``: the refund's or chargeback's own pspReference (our
  ``Refund.provider_reference``);
- ``Net Currency`` (required), ``Net Debit (NC)``, ``Net Credit (NC)`` (required):
  what the line did to our balance, decimals in major units;
- ``Gross Currency``, ``Gross Debit (GC)``, ``Gross Credit (GC)``: the payment's
  amount (compared with ours when in the same currency);
- ``Commission (NC)``, ``Markup (NC)``, ``Scheme Fees (NC)``, ``Interchange (NC)``:
  the costs withheld on the line;
- ``Batch Number``: the payable batch (the bank transfer's reference);
- ``Creation Date`` with ``TimeZone``.

Amounts are converted with Adyen's own currency exponents (``mapping.py``), so CLP
and ISK (two decimals at Adyen) and IDR and CVE (none) land right in ISO units.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import IO
from zoneinfo import ZoneInfo

from common.errors import ApplicationError
from payments.providers.adyen.mapping import adyen_exponent, from_adyen_minor
from payments.providers.settlement import (
    RowKind,
    SettlementRow,
    csv_rows,
    invalid_line,
)

PROVIDER = "adyen"
REQUIRED = (
    "Type",
    "Psp Reference",
    "Net Currency",
    "Net Debit (NC)",
    "Net Credit (NC)",
)
COSTS = ("Commission (NC)", "Markup (NC)", "Scheme Fees (NC)", "Interchange (NC)")

KINDS = {
    "Settled": RowKind.PAYMENT,
    "SettledBulk": RowKind.PAYMENT,
    "Refunded": RowKind.REFUND,
    "RefundedBulk": RowKind.REFUND,
    "RefundedReversed": RowKind.REFUND_REVERSAL,
    "Chargeback": RowKind.CHARGEBACK,
    "SecondChargeback": RowKind.CHARGEBACK,
    "ChargebackReversed": RowKind.CHARGEBACK_REVERSAL,
    "Fee": RowKind.FEE,
    "MiscCosts": RowKind.FEE,
    "MerchantPayout": RowKind.PAYOUT,
}

# The abbreviations the report's TimeZone column uses for account time zones.
ZONES = {
    "CET": "Europe/Amsterdam",
    "CEST": "Europe/Amsterdam",
    "GMT": "Europe/London",
    "BST": "Europe/London",
    "UTC": "UTC",
}


def _minor(value: str, currency: str, line: int) -> int:
    value = value.strip()
    if not value:
        return 0
    try:
        adyen_units = Decimal(value).scaleb(adyen_exponent(currency))
        if adyen_units != adyen_units.to_integral_value():
            raise invalid_line(PROVIDER, line, f"{value} has too many decimals")
        return from_adyen_minor(int(adyen_units), currency)
    except InvalidOperation:
        raise invalid_line(PROVIDER, line, f"{value!r} is not an amount") from None
    except ApplicationError as exc:
        if exc.code == "SETTLEMENT_FILE_INVALID":
            raise
        raise invalid_line(PROVIDER, line, exc.message) from None


def _created(value: str, zone: str) -> datetime | None:
    try:
        moment = datetime.strptime(value.strip(), "%Y-%m-%d %H:%M:%S")
    except ValueError:
        return None
    return moment.replace(tzinfo=ZoneInfo(ZONES.get(zone.strip(), "UTC")))


def parse(stream: IO[str]) -> Iterator[SettlementRow]:
    for line, row in csv_rows(stream, required=REQUIRED, provider=PROVIDER):
        journal = row["Type"].strip()
        kind = KINDS.get(journal, RowKind.OTHER)
        currency = row["Net Currency"].strip().upper()
        if not currency:
            raise invalid_line(PROVIDER, line, "no Net Currency")
        net = _minor(row["Net Credit (NC)"], currency, line) - _minor(
            row["Net Debit (NC)"], currency, line
        )
        fee = sum(_minor(row.get(column, ""), currency, line) for column in COSTS)
        gross_currency = row.get("Gross Currency", "").strip().upper()
        if gross_currency == currency:
            gross = _minor(row.get("Gross Credit (GC)", ""), currency, line) - _minor(
                row.get("Gross Debit (GC)", ""), currency, line
            )
        else:  # no gross, or converted: the net plus the costs is what moved
            gross = net + fee
        if kind == RowKind.FEE:
            # A Fee line carries its amount as a net debit and no separate costs.
            fee, gross = -net, 0
        yield SettlementRow(
            line=line,
            kind=kind,
            raw_type=journal,
            payment_reference=row["Psp Reference"].strip(),
            modification_reference=row.get("Modification Reference", "").strip(),
            merchant_reference=row.get("Merchant Reference", "").strip(),
            currency=currency,
            gross_minor=gross,
            fee_minor=fee,
            net_minor=net,
            batch=row.get("Batch Number", "").strip(),
            created_at=_created(row.get("Creation Date", ""), row.get("TimeZone", "")),
        )
