"""PSP settlement reports in one vocabulary.

Each PSP exports its settlement report in its own CSV layout; the provider package
that knows the PSP (``providers/<name>/settlement.py``) reads it and yields
``SettlementRow`` objects, one per line that moved money, with amounts already in our
ISO-4217 minor units. Reconciliation (``reconciliation/``) matches those rows to the
ledger and never reads a vendor column itself.

Parsers take a text stream and yield rows as they read: a million-line file is never
held in memory.
"""

from __future__ import annotations

import csv
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import IO

from payments.exceptions import SettlementFileInvalid


class RowKind:
    """What a settlement line is, whatever the PSP calls it."""

    PAYMENT = "payment"  # a captured payment credited to us
    REFUND = "refund"  # money returned to the payer
    REFUND_REVERSAL = "refund_reversal"  # a refund that came back
    CHARGEBACK = "chargeback"  # a payment reversed by the scheme
    CHARGEBACK_REVERSAL = "chargeback_reversal"  # a chargeback won back
    FEE = "fee"  # a PSP fee not tied to one payment
    PAYOUT = "payout"  # the transfer of a batch to our bank account
    OTHER = "other"  # anything else the report lists (reported, not matched)


@dataclass(frozen=True, slots=True)
class SettlementRow:
    line: int
    kind: str
    raw_type: str
    #: The PSP's reference of the payment (Stripe PaymentIntent, Adyen pspReference).
    payment_reference: str
    #: The PSP's reference of the modification (Stripe refund id, Adyen
    #: Modification Reference); empty for a payment itself.
    modification_reference: str
    #: Our own reference when the PSP echoes it (Adyen Merchant Reference).
    merchant_reference: str
    currency: str
    #: Signed as it moves our balance at the PSP: a payment is positive, a refund,
    #: chargeback, fee or payout negative. Minor units of ``currency``.
    gross_minor: int
    #: The PSP's costs withheld on this line (positive = we paid them).
    fee_minor: int
    net_minor: int
    #: The payout batch the line is settled in (Stripe automatic payout id, Adyen
    #: batch number).
    batch: str
    created_at: datetime | None


Parser = Callable[[IO[str]], Iterator[SettlementRow]]


def csv_rows(
    stream: IO[str], *, required: Iterable[str], provider: str
) -> Iterator[tuple[int, dict[str, str]]]:
    """``(line number, row)`` for each data line, after checking the header has the
    columns the parser relies on. Lines are read one at a time."""
    reader = csv.reader(stream)
    try:
        header = next(reader)
    except StopIteration:
        raise SettlementFileInvalid(
            "The file is empty.", details={"provider": provider}
        ) from None
    except (csv.Error, UnicodeDecodeError) as exc:
        raise SettlementFileInvalid(
            "The file is not a CSV file.",
            details={"provider": provider, "reason": str(exc)[:200]},
        ) from None
    header = [name.strip() for name in header]
    missing = sorted(set(required) - set(header))
    if missing:
        raise SettlementFileInvalid(
            f"The header lacks the column(s) the {provider} report always has.",
            details={"provider": provider, "missing_columns": missing},
        )
    width = len(header)
    line = 1
    try:
        for values in reader:
            line += 1
            if not values or values == [""]:
                continue
            if len(values) < width:
                values = values + [""] * (width - len(values))
            yield line, dict(zip(header, values, strict=False))
    except (csv.Error, UnicodeDecodeError) as exc:
        raise SettlementFileInvalid(
            "The file is not valid CSV.",
            details={"provider": provider, "line": line + 1, "reason": str(exc)[:200]},
        ) from None


def invalid_line(provider: str, line: int, reason: str) -> SettlementFileInvalid:
    return SettlementFileInvalid(
        f"Line {line} of the {provider} report cannot be read: {reason}.",
        details={"provider": provider, "line": line, "reason": reason},
    )
