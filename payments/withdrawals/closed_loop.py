"""Closed-loop payouts (issue 13; docs/compliance.md).

A withdrawal goes back first to the methods the player deposited with, as refunds
of those deposits through their PSP, each up to what that deposit can still refund,
newest deposit first (the most likely to be still refundable); only the remainder
goes to a bank account, and only to one in the player's verified name.

``closed_loop_plan`` is a pure function of its inputs (tested on its own);
``withdrawal_payout_plan`` gathers them for one withdrawal (the review page shows
the result as the planned split). Executing the refund legs automatically is not
built: docs/compliance.md says what the operator does today."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

from common import clock
from common.crypto import decrypt_json
from common.names import names_match
from payments.deposits.refunds import refundable_minor
from payments.exceptions import WithdrawalPayoutNameMismatch
from wallet.compliance.risk import CLOSED_LOOP_REFUND_WINDOW
from wallet.models import Deposit, Withdrawal

# Card schemes and most PSPs refuse refunds of old payments; older deposits are
# left out of the plan and their share goes to the bank leg.
REFUND_WINDOW = CLOSED_LOOP_REFUND_WINDOW


@dataclass(frozen=True)
class RefundableDeposit:
    deposit_id: int
    provider: str
    currency: str
    refundable_minor: int
    completed_at: datetime


@dataclass(frozen=True)
class PayoutLeg:
    kind: str  # "refund" | "bank"
    amount_minor: int
    deposit_id: int | None = None
    provider: str = ""


@dataclass(frozen=True)
class PayoutPlan:
    currency: str
    amount_minor: int
    legs: tuple[PayoutLeg, ...] = field(default_factory=tuple)
    refund_minor: int = 0
    bank_minor: int = 0
    bank_name_matches: bool = True

    @property
    def payable(self) -> bool:
        """False when money would go to a bank account in someone else's name."""
        return self.bank_minor == 0 or self.bank_name_matches


def closed_loop_plan(
    *,
    amount_minor: int,
    currency: str,
    deposits: Sequence[RefundableDeposit],
    holder_name: str,
    verified_name: str,
) -> PayoutPlan:
    """Split ``amount_minor``: refunds to ``deposits`` newest first (ties: higher
    id first), each at most its refundable amount, skipping other currencies and
    nothing-left deposits; the rest to the bank. ``bank_name_matches`` says whether
    ``holder_name`` is the verified name (only asked when there is a bank leg)."""
    if amount_minor <= 0:
        raise ValueError("amount_minor must be positive")
    remaining = amount_minor
    legs: list[PayoutLeg] = []
    ordered = sorted(
        deposits, key=lambda d: (d.completed_at, d.deposit_id), reverse=True
    )
    for deposit in ordered:
        if remaining == 0:
            break
        if deposit.currency != currency or deposit.refundable_minor <= 0:
            continue
        take = min(remaining, deposit.refundable_minor)
        legs.append(
            PayoutLeg(
                kind="refund",
                amount_minor=take,
                deposit_id=deposit.deposit_id,
                provider=deposit.provider,
            )
        )
        remaining -= take
    refund_total = amount_minor - remaining
    if remaining:
        legs.append(PayoutLeg(kind="bank", amount_minor=remaining))
    return PayoutPlan(
        currency=currency,
        amount_minor=amount_minor,
        legs=tuple(legs),
        refund_minor=refund_total,
        bank_minor=remaining,
        bank_name_matches=remaining == 0 or names_match(holder_name, verified_name),
    )


def refundable_deposit_list(
    *, tenant_id: int, player_id: int, currency: str, now: datetime | None = None
) -> list[RefundableDeposit]:
    """The player's completed deposits in ``currency`` within the refund window
    with something left to refund (pending refunds counted as used)."""
    now = now or clock.now()
    deposits = Deposit.objects.filter(
        tenant_id=tenant_id,
        player_id=player_id,
        currency=currency,
        state=Deposit.State.COMPLETED,
        completed_at__gte=now - REFUND_WINDOW,
    ).order_by("-completed_at", "-id")
    found = []
    for deposit in deposits:
        left = refundable_minor(deposit=deposit)
        if left > 0:
            found.append(
                RefundableDeposit(
                    deposit_id=deposit.pk,
                    provider=deposit.provider,
                    currency=deposit.currency,
                    refundable_minor=left,
                    completed_at=deposit.completed_at,
                )
            )
    return found


def withdrawal_payout_plan(*, withdrawal: Withdrawal) -> PayoutPlan:
    """The planned split of one withdrawal, for the review page and the approval."""
    destination = decrypt_json(withdrawal.destination_encrypted)
    return closed_loop_plan(
        amount_minor=withdrawal.amount_minor,
        currency=withdrawal.currency,
        deposits=refundable_deposit_list(
            tenant_id=withdrawal.tenant_id,
            player_id=withdrawal.player_id,
            currency=withdrawal.currency,
        ),
        holder_name=destination.get("holder_name", ""),
        verified_name=withdrawal.player.verified_name,
    )


def withdrawal_payout_name_check(*, withdrawal: Withdrawal) -> PayoutPlan:
    """Refuse (``WithdrawalPayoutNameMismatch``) an approval that would send the
    bank leg to an account not in the player's verified name; returns the plan."""
    plan = withdrawal_payout_plan(withdrawal=withdrawal)
    if not plan.payable:
        raise WithdrawalPayoutNameMismatch(
            details={
                "withdrawal_id": withdrawal.pk,
                "bank_minor": plan.bank_minor,
                "currency": plan.currency,
                "verified_name_on_file": bool(withdrawal.player.verified_name),
            }
        )
    return plan
