"""Settlement rows against our books, a chunk at a time.

For each chunk of rows the matcher loads the deposits and refunds those rows name
(two indexed queries, scoped to the tenant and provider) and compares. What it must
see whole (fees per batch and currency, each payout batch's lines against its bank
transfer, the period the file covers) it keeps as running totals, so memory does not
grow with the file. Codes and severities: ``wallet.finding_codes``.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

from common.db_router import replica_reads
from payments.models import Refund
from payments.providers.settlement import RowKind, SettlementRow
from wallet.finding_codes import severity_of
from wallet.models import Deposit
from wallet.services import FindingSpec

DEPOSIT_FIELDS = (
    "id",
    "payment_reference",
    "amount_minor",
    "currency",
    "state",
    "charged_back_minor",
)
REFUND_FIELDS = ("id", "provider_reference", "amount_minor", "currency", "state")


@dataclass
class BatchTotal:
    lines_net_minor: int = 0
    payout_minor: int | None = None


@dataclass
class Matcher:
    tenant_id: int
    provider: str
    rows: int = 0
    #: (currency) → fees withheld, in minor units.
    fees: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    #: (batch, currency) → lines and payout of that batch.
    batches: dict[tuple[str, str], BatchTotal] = field(
        default_factory=lambda: defaultdict(BatchTotal)
    )
    #: (currency, batch) → fees of that batch, for one posting each.
    batch_fees: dict[tuple[str, str], int] = field(
        default_factory=lambda: defaultdict(int)
    )
    first_payment_at: datetime | None = None
    last_payment_at: datetime | None = None

    def _finding(
        self, code: str, object_type: str, object_ref: str, row: SettlementRow, **more
    ) -> FindingSpec:
        return FindingSpec(
            tenant_id=self.tenant_id,
            code=code,
            severity=severity_of(code),
            object_type=object_type,
            object_ref=str(object_ref),
            details={
                "provider": self.provider,
                "line": row.line,
                "psp_type": row.raw_type,
                "payment_reference": row.payment_reference,
                "modification_reference": row.modification_reference,
                "psp_amount_minor": row.gross_minor,
                "psp_currency": row.currency,
                "batch": row.batch,
                **more,
            },
        )

    def match(self, chunk: Sequence[SettlementRow]) -> list[FindingSpec]:
        self.rows += len(chunk)
        payment_refs = {
            row.payment_reference
            for row in chunk
            if row.payment_reference
            and row.kind in (RowKind.PAYMENT, RowKind.CHARGEBACK)
        }
        refund_refs = {
            row.modification_reference
            for row in chunk
            if row.modification_reference
            and row.kind in (RowKind.REFUND, RowKind.REFUND_REVERSAL)
        }
        with replica_reads():
            deposits, refunds = self._lookup(payment_refs, refund_refs)

        found: list[FindingSpec] = []
        for row in chunk:
            self._totals(row)
            if row.kind == RowKind.PAYMENT:
                found += self._payment(row, deposits.get(row.payment_reference))
            elif row.kind == RowKind.REFUND:
                found += self._refund(row, refunds.get(row.modification_reference))
            elif row.kind == RowKind.REFUND_REVERSAL:
                refund = refunds.get(row.modification_reference)
                if refund is not None and refund["state"] != Refund.State.REVERSED:
                    found.append(
                        self._finding(
                            "status_mismatch",
                            "refund",
                            refund["id"],
                            row,
                            ours=refund["state"],
                            psp="refund reversed",
                        )
                    )
            elif row.kind == RowKind.CHARGEBACK:
                found += self._chargeback(row, deposits.get(row.payment_reference))
            elif row.kind == RowKind.OTHER:
                found.append(
                    self._finding(
                        "unknown_record_type",
                        "psp_line",
                        f"{row.raw_type}:{row.batch}:{row.line}",
                        row,
                    )
                )
        return found

    def _lookup(self, payment_refs: set[str], refund_refs: set[str]):
        """Our deposits and refunds the chunk names: two indexed queries, from the
        replica when one is configured (findings are reported, not acted on)."""
        deposits = (
            {
                d["payment_reference"]: d
                for d in Deposit.objects.filter(
                    tenant_id=self.tenant_id,
                    provider=self.provider,
                    payment_reference__in=payment_refs,
                ).values(*DEPOSIT_FIELDS)
            }
            if payment_refs
            else {}
        )
        refunds = (
            {
                r["provider_reference"]: r
                for r in Refund.objects.filter(
                    tenant_id=self.tenant_id,
                    provider=self.provider,
                    provider_reference__in=refund_refs,
                ).values(*REFUND_FIELDS)
            }
            if refund_refs
            else {}
        )
        return deposits, refunds

    def _totals(self, row: SettlementRow) -> None:
        if row.kind == RowKind.PAYOUT:
            batch = self.batches[(row.batch, row.currency)]
            batch.payout_minor = (batch.payout_minor or 0) - row.net_minor
            return
        self.batches[(row.batch, row.currency)].lines_net_minor += row.net_minor
        if row.fee_minor:
            self.fees[row.currency] += row.fee_minor
            self.batch_fees[(row.currency, row.batch)] += row.fee_minor
        if row.kind == RowKind.PAYMENT and row.created_at is not None:
            if self.first_payment_at is None or row.created_at < self.first_payment_at:
                self.first_payment_at = row.created_at
            if self.last_payment_at is None or row.created_at > self.last_payment_at:
                self.last_payment_at = row.created_at

    def _payment(self, row: SettlementRow, deposit: dict | None) -> list[FindingSpec]:
        if deposit is None:
            return [
                self._finding(
                    "missing_in_ledger", "psp_payment", row.payment_reference, row
                )
            ]
        found = []
        if deposit["currency"] != row.currency:
            found.append(
                self._finding(
                    "currency_mismatch",
                    "deposit",
                    deposit["id"],
                    row,
                    ours=deposit["currency"],
                )
            )
        elif deposit["amount_minor"] != row.gross_minor:
            found.append(
                self._finding(
                    "amount_mismatch",
                    "deposit",
                    deposit["id"],
                    row,
                    ours=deposit["amount_minor"],
                )
            )
        if deposit["state"] != Deposit.State.COMPLETED:
            found.append(
                self._finding(
                    "status_mismatch",
                    "deposit",
                    deposit["id"],
                    row,
                    ours=deposit["state"],
                    psp="settled",
                )
            )
        return found

    def _refund(self, row: SettlementRow, refund: dict | None) -> list[FindingSpec]:
        if refund is None:
            return [
                self._finding(
                    "missing_in_ledger",
                    "psp_refund",
                    row.modification_reference or f"line:{row.line}",
                    row,
                )
            ]
        found = []
        if refund["currency"] != row.currency:
            found.append(
                self._finding(
                    "currency_mismatch",
                    "refund",
                    refund["id"],
                    row,
                    ours=refund["currency"],
                )
            )
        elif refund["amount_minor"] != -row.gross_minor:
            found.append(
                self._finding(
                    "amount_mismatch",
                    "refund",
                    refund["id"],
                    row,
                    ours=refund["amount_minor"],
                )
            )
        if refund["state"] != Refund.State.SUCCEEDED:
            found.append(
                self._finding(
                    "status_mismatch",
                    "refund",
                    refund["id"],
                    row,
                    ours=refund["state"],
                    psp="refunded",
                )
            )
        return found

    def _chargeback(
        self, row: SettlementRow, deposit: dict | None
    ) -> list[FindingSpec]:
        if deposit is None:
            return [
                self._finding(
                    "missing_in_ledger", "psp_chargeback", row.payment_reference, row
                )
            ]
        if deposit["charged_back_minor"] == 0:
            return [
                self._finding(
                    "status_mismatch",
                    "deposit",
                    deposit["id"],
                    row,
                    ours="no chargeback booked",
                    psp="charged back",
                )
            ]
        return []

    def batch_findings(self) -> list[FindingSpec]:
        """Each payout batch's lines against the transfer to the bank (only batches
        whose payout line is in the file)."""
        found = []
        for (batch, currency), total in sorted(self.batches.items()):
            if (
                total.payout_minor is None
                or total.payout_minor == total.lines_net_minor
            ):
                continue
            found.append(
                FindingSpec(
                    tenant_id=self.tenant_id,
                    code="payout_batch_mismatch",
                    severity=severity_of("payout_batch_mismatch"),
                    object_type="psp_batch",
                    object_ref=f"{self.provider}:{batch}:{currency}",
                    details={
                        "provider": self.provider,
                        "batch": batch,
                        "currency": currency,
                        "lines_net_minor": total.lines_net_minor,
                        "payout_minor": total.payout_minor,
                    },
                )
            )
        return found
