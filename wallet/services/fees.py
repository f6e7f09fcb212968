"""PSP fees confirmed by a settlement report, booked to the brand's fee account."""

from __future__ import annotations

from common.actors import Actor
from wallet.models import Account, JournalTransaction
from wallet.services.ledger import (
    PostingLine,
    PostingResult,
    system_account_get_or_create,
    transaction_post,
)


def psp_fee_post(
    *,
    tenant_id: int,
    provider: str,
    currency: str,
    amount_minor: int,
    idempotency_key: str,
    reference: str,
    actor: Actor,
) -> PostingResult:
    """Book ``amount_minor`` of fees the PSP withheld: the fee expense up (the fees
    account, debit-normal like clearing, goes down) and what the PSP owes us down
    (its clearing account goes up). A negative amount (fees refunded) books the
    opposite. Exactly once per ``idempotency_key``; the same key with another
    amount raises ``IdempotencyKeyReuseConflict``. Locks nothing (both are system
    accounts)."""
    if amount_minor == 0:
        raise ValueError("a fee posting needs a non-zero amount")
    fees = system_account_get_or_create(
        tenant_id=tenant_id,
        kind=Account.Kind.FEES,
        currency=currency,
        provider=provider,
    )
    clearing = system_account_get_or_create(
        tenant_id=tenant_id,
        kind=Account.Kind.PSP_CLEARING,
        currency=currency,
        provider=provider,
    )
    return transaction_post(
        tenant_id=tenant_id,
        kind=JournalTransaction.Kind.PSP_FEE,
        lines=[
            PostingLine(account=fees, amount_minor=-amount_minor),
            PostingLine(account=clearing, amount_minor=amount_minor),
        ],
        idempotency_key=idempotency_key,
        actor=actor,
        reference=reference,
        description=f"{provider} fees confirmed by the settlement report",
    )
