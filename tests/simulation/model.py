"""The plain-Python model the simulation (tests/simulation/machine.py) checks the
product against: what each player's balance, each deposit, refund and withdrawal
must be after the PSP events applied so far.

Each ``*_applied`` method is what one PSP event does to the books, written from the
services' documented rules (wallet.services, payments.deposits, payments.withdrawals),
not by calling them. The machine calls it when the product applies the event (at
delivery, or later when the outbox sweep re-drives a delivery whose task was lost).
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field

# Withdrawal states (wallet.models.Withdrawal.State values).
REQUESTED, APPROVED, PAYOUT_PENDING = "requested", "approved", "payout_pending"
PAYOUT_FAILED, PAID, RETURNED = "payout_failed", "paid", "returned"
REJECTED, CANCELED = "rejected", "canceled"
# Payout attempt states (wallet.models.PayoutAttempt.State values).
OPEN_ATTEMPT = {"pending", "sent", "unknown"}


@dataclass
class PlayerModel:
    tenant_pk: int
    available: int = 0
    held: int = 0
    frozen: bool = False


@dataclass
class DepositModel:
    pk: int
    player_pk: int
    provider: str
    amount: int
    state: str = "pending_provider"
    completed_seq: int = 0  # completion order: the closed loop refunds newest first
    refunded: int = 0  # deposit.refunded_minor
    charged_back: int = 0  # deposit.charged_back_minor
    chargeback_covered: int = 0  # what the player's cash paid of it
    chargeback_reversed: bool = False


@dataclass
class RefundModel:
    pk: int
    deposit_pk: int
    amount: int
    leg_of: int | None = None  # the withdrawal this closed-loop leg pays
    state: str = "pending"
    sent: bool = False  # the PSP has it (and gave it a reference)
    covered: int = 0  # what the claw-back took from the player's cash


@dataclass
class AttemptModel:
    pk: int
    created_at: float  # model clock seconds
    state: str = "pending"
    transfer_id: str = ""  # the id the PSP knows it by ("" = never reached it)


@dataclass
class WithdrawalModel:
    pk: int
    player_pk: int
    amount: int
    state: str = REQUESTED
    bank: int = 0  # the bank leg (the withdrawal's hold), after a closed-loop split
    bank_posted: bool = False
    legs: list[int] = field(default_factory=list)  # refund pks
    attempts: list[AttemptModel] = field(default_factory=list)


@dataclass
class Postings:
    """Journal transactions by kind the books must hold: each event moves money at
    most once, so these counts are exact."""

    deposit: int = 0
    refund: int = 0
    chargeback: int = 0
    withdrawal_post: int = 0
    reversal: int = 0


@dataclass
class Model:
    players: dict[int, PlayerModel] = field(default_factory=dict)
    deposits: dict[int, DepositModel] = field(default_factory=dict)
    refunds: dict[int, RefundModel] = field(default_factory=dict)
    withdrawals: dict[int, WithdrawalModel] = field(default_factory=dict)
    postings: Postings = field(default_factory=Postings)
    clock: float = 0.0  # seconds the frozen clock was advanced
    refund_window_passed: bool = False
    completions: itertools.count = field(default_factory=lambda: itertools.count(1))

    # --- deposits --------------------------------------------------------------------

    def deposit_paid_applied(self, deposit_pk: int, amount: int) -> None:
        """A completed deposit is not credited again (a second payment is flagged);
        an amount that differs credits nothing (flagged); an expired or failed one is
        still credited (the player paid)."""
        deposit = self.deposits[deposit_pk]
        if deposit.state == "completed" or amount != deposit.amount:
            return
        deposit.state = "completed"
        deposit.completed_seq = next(self.completions)
        self.players[deposit.player_pk].available += amount
        self.postings.deposit += 1

    def deposit_unpaid_applied(self, deposit_pk: int, state: str) -> None:
        """Failed, expired or cancelled at the PSP: a final deposit does not regress."""
        deposit = self.deposits[deposit_pk]
        if deposit.state == "pending_provider":
            deposit.state = state

    def refundable(self, deposit: DepositModel) -> int:
        pending = sum(
            r.amount
            for r in self.refunds.values()
            if r.deposit_pk == deposit.pk and r.state == "pending"
        )
        return deposit.amount - deposit.refunded - deposit.charged_back - pending

    # --- refunds ---------------------------------------------------------------------

    def _claw_back(self, player: PlayerModel, amount: int) -> int:
        """The player's available cash pays what it covers; the rest is receivable."""
        covered = min(amount, player.available)
        player.available -= covered
        return covered

    def refund_succeeded_applied(self, refund_pk: int) -> None:
        refund = self.refunds[refund_pk]
        if refund.state != "pending":
            return
        deposit = self.deposits[refund.deposit_pk]
        player = self.players[deposit.player_pk]
        refund.state = "succeeded"
        if refund.leg_of is not None:
            # The leg's hold goes back to available, and the claw-back takes it.
            player.held -= refund.amount
            player.available += refund.amount
            self._leg_final(refund)
        refund.covered = self._claw_back(player, refund.amount)
        deposit.refunded += refund.amount
        self.postings.refund += 1

    def refund_failed_applied(self, refund_pk: int) -> None:
        """A pending refund fails (a leg's money goes back to available); a
        succeeded one is reversed (the player gets back what it took)."""
        refund = self.refunds[refund_pk]
        player = self.players[self.deposits[refund.deposit_pk].player_pk]
        if refund.state == "succeeded":
            refund.state = "reversed"
            player.available += refund.covered
            self.postings.reversal += 1
        elif refund.state == "pending":
            refund.state = "failed"
            if refund.leg_of is not None:
                player.held -= refund.amount
                player.available += refund.amount
                self._leg_final(refund)

    def _leg_final(self, refund: RefundModel) -> None:
        withdrawal = self.withdrawals[refund.leg_of]
        legs = [self.refunds[pk] for pk in withdrawal.legs]
        if any(leg.state == "pending" for leg in legs):
            return
        if withdrawal.state == PAYOUT_PENDING and withdrawal.bank_posted:
            withdrawal.state = PAID
        elif withdrawal.state == APPROVED and withdrawal.bank == 0:
            refunded = any(leg.state == "succeeded" for leg in legs)
            withdrawal.state = PAID if refunded else REJECTED

    # --- disputes --------------------------------------------------------------------

    def dispute_notified_applied(self, deposit_pk: int) -> None:
        self.players[self.deposits[deposit_pk].player_pk].frozen = True

    def chargeback_applied(self, deposit_pk: int, amount: int) -> None:
        """Once per deposit, only on a completed one, within its amount."""
        deposit = self.deposits[deposit_pk]
        if deposit.charged_back or deposit.state != "completed":
            return
        if not 0 < amount <= deposit.amount:
            return
        player = self.players[deposit.player_pk]
        deposit.chargeback_covered = self._claw_back(player, amount)
        deposit.charged_back = amount
        player.frozen = True
        self.postings.chargeback += 1

    def dispute_won_applied(self, deposit_pk: int) -> None:
        deposit = self.deposits[deposit_pk]
        if not deposit.charged_back or deposit.chargeback_reversed:
            return
        deposit.chargeback_reversed = True
        self.players[deposit.player_pk].available += deposit.chargeback_covered
        self.postings.reversal += 1

    # --- payouts ---------------------------------------------------------------------

    def transfer_applied(self, withdrawal_pk: int, attempt_pk: int, status: str):
        withdrawal = self.withdrawals[withdrawal_pk]
        attempt = next(a for a in withdrawal.attempts if a.pk == attempt_pk)
        player = self.players[withdrawal.player_pk]
        if status == "returned" and attempt.state in OPEN_ATTEMPT:
            status = "failed"  # never booked: the payout did not happen
        if status == "booked":
            if attempt.state not in OPEN_ATTEMPT:
                return  # paid already, or a late update of a failed attempt
            attempt.state = "paid"
            withdrawal.bank_posted = True
            player.held -= withdrawal.bank
            self.postings.withdrawal_post += 1
            if not any(self.refunds[pk].state == "pending" for pk in withdrawal.legs):
                withdrawal.state = PAID
        elif status == "failed":
            if attempt.state not in OPEN_ATTEMPT:
                return
            attempt.state = "failed"
            withdrawal.state = PAYOUT_FAILED
        elif status == "returned":
            if withdrawal.state == RETURNED or attempt.state != "paid":
                return
            withdrawal.state = RETURNED
            player.available += withdrawal.bank
            self.postings.reversal += 1

    def withdrawal_released(self, withdrawal: WithdrawalModel, state: str) -> None:
        """Canceled or rejected: the withdrawal's hold (its bank leg) is voided."""
        player = self.players[withdrawal.player_pk]
        player.held -= withdrawal.bank
        player.available += withdrawal.bank
        withdrawal.state = state

    def closed_loop_plan(self, withdrawal: WithdrawalModel) -> list[tuple[int, int]]:
        """(deposit pk, amount) refund legs: the player's completed deposits within
        the refund window, newest first, each up to what it can still refund."""
        if self.refund_window_passed:
            return []
        deposits = sorted(
            (
                d
                for d in self.deposits.values()
                if d.player_pk == withdrawal.player_pk and d.state == "completed"
            ),
            key=lambda d: d.completed_seq,
            reverse=True,
        )
        legs, remaining = [], withdrawal.amount
        for deposit in deposits:
            left = self.refundable(deposit)
            if remaining == 0:
                break
            if left <= 0:
                continue
            take = min(remaining, left)
            legs.append((deposit.pk, take))
            remaining -= take
        return legs
