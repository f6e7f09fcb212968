"""What an operator does for a manual payout (a bank transfer made by hand). Each
joins the caller's transaction and locks the withdrawal row (through the wallet
services). Refused for a PSP payout: its outcome is asked of the PSP."""

from __future__ import annotations

from common.actors import Actor
from common.errors import ValidationFailed
from payments.withdrawals.services import payout_outcome_settle_by_operator_check
from wallet.models import PayoutAttempt, Withdrawal
from wallet.services import withdrawal_payout_failed, withdrawal_payout_succeeded


def manual_payout_mark_paid(
    *, attempt: PayoutAttempt, actor: Actor, bank_reference: str
) -> tuple[Withdrawal, bool]:
    """The transfer left the bank: post the hold. The bank's reference is required."""
    payout_outcome_settle_by_operator_check(attempt=attempt)
    if not bank_reference.strip():
        raise ValidationFailed(
            "The bank reference is required.",
            details={"fields": {"bank_reference": ["required"]}},
        )
    return withdrawal_payout_succeeded(
        attempt=attempt, actor=actor, provider_reference=bank_reference.strip()
    )


def manual_payout_mark_failed(
    *, attempt: PayoutAttempt, actor: Actor, reason: str
) -> tuple[Withdrawal, bool]:
    """The transfer bounced or could not be made; funds stay held for a retry."""
    payout_outcome_settle_by_operator_check(attempt=attempt)
    return withdrawal_payout_failed(attempt=attempt, actor=actor, reason=reason)
