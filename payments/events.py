"""The business events every PSP is translated into: one closed vocabulary.

A provider (``payments/providers/<name>/``) verifies a delivery and turns each
notification in it into one of the frozen dataclasses below, carrying everything the
flows need. The flows (``payments.deposits.events``, ``payments.withdrawals.events``)
handle these and nothing else: they never read a vendor payload and never ask which
PSP sent an event, so Stripe and Adyen go through the same refund, dispute and
payout-outcome code. A new PSP is a new provider package that speaks this vocabulary.

This module imports no model and no vendor code (providers import it).
"""

from __future__ import annotations

from dataclasses import dataclass

# --- what an event is about --------------------------------------------------------


@dataclass(frozen=True, slots=True)
class DepositRef:
    """How a PSP names a deposit: our id (from the merchant reference we gave it),
    the checkout it opened for us (session / payment link id) and the payment that
    paid it (payment intent / pspReference). Any may be empty; the flow looks the
    deposit up by the most specific one, within the endpoint's brand only."""

    deposit_id: int | None = None
    checkout_reference: str = ""
    payment_reference: str = ""


@dataclass(frozen=True, slots=True)
class PayoutRef:
    """How a PSP names a payout: its transfer id and our attempt id (from the
    reference we sent)."""

    transfer_reference: str = ""
    attempt_id: int | None = None


# --- deposits ------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class DepositPaid:
    """The money of a deposit is ours. ``amount_minor`` is ``None`` when the PSP's
    amount cannot be expressed in ISO minor units (the deposit is then flagged)."""

    deposit: DepositRef
    payment_reference: str
    amount_minor: int | None
    currency: str
    # When set, the checkout the event names must be the deposit's own (a payment
    # on another session of the same deposit is flagged, never credited).
    checkout_reference: str = ""


@dataclass(frozen=True, slots=True)
class DepositAwaitingPayment:
    """The player finished the checkout but the money is not there yet (Stripe's
    delayed methods): nothing changes until paid or failed."""

    deposit: DepositRef
    checkout_reference: str = ""


@dataclass(frozen=True, slots=True)
class DepositFailed:
    """The payment was refused or failed; a credited deposit is left alone."""

    deposit: DepositRef
    reason: str
    checkout_reference: str = ""


@dataclass(frozen=True, slots=True)
class DepositExpired:
    """The checkout expired unpaid."""

    deposit: DepositRef
    checkout_reference: str = ""


@dataclass(frozen=True, slots=True)
class DepositCancelled:
    """The PSP cancelled the payment: an unpaid deposit fails, a credited one is
    flagged for an operator (money may have gone back)."""

    deposit: DepositRef


# --- refunds --------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class RefundSucceeded:
    """The PSP refunded ``amount_minor`` of a deposit. ``refund_id`` is ours when we
    asked for it; a refund made in the PSP's back office has none."""

    deposit: DepositRef
    refund_id: int | None
    refund_reference: str
    amount_minor: int | None
    currency: str


@dataclass(frozen=True, slots=True)
class RefundTotalReported:
    """The PSP reports how much of a deposit's payment is refunded in total, without
    naming the refunds (Stripe's ``charge.refunded``): the pending refunds that make
    up the new total succeed, and any rest is recorded as refunded at the PSP."""

    deposit: DepositRef
    refunded_total_minor: int
    currency: str


@dataclass(frozen=True, slots=True)
class RefundFailed:
    """A refund did not happen, or the PSP undid it: a pending refund fails (nothing
    was booked), a succeeded one is reversed (the player gets the money back)."""

    deposit: DepositRef
    refund_id: int | None
    refund_reference: str
    reason: str


# --- disputes -------------------------------------------------------------------------


class DisputeStage:
    """The stages a dispute goes through (``payments.models.Dispute.Stage`` values)."""

    NOTIFIED = "notification_of_chargeback"
    CHARGEBACK = "chargeback"
    WON = "chargeback_reversed"
    LOST = "lost"
    SECOND_CHARGEBACK = "second_chargeback"
    PREARBITRATION_WON = "prearbitration_won"
    PREARBITRATION_LOST = "prearbitration_lost"


@dataclass(frozen=True, slots=True)
class DisputeNotified:
    """A dispute is announced, no money moved yet (Adyen's notification of
    chargeback, Stripe's inquiry): withdrawals freeze."""

    deposit: DepositRef
    dispute_reference: str
    amount_minor: int | None
    currency: str
    reason: str = ""


@dataclass(frozen=True, slots=True)
class DisputeOpened:
    """The PSP took the disputed money back: the chargeback is posted."""

    deposit: DepositRef
    dispute_reference: str
    amount_minor: int | None
    currency: str
    reason: str = ""


@dataclass(frozen=True, slots=True)
class DisputeWon:
    """The dispute was decided for us: the chargeback is reversed."""

    deposit: DepositRef
    dispute_reference: str
    reason: str = ""


@dataclass(frozen=True, slots=True)
class DisputeLost:
    """The dispute was decided against us: final, the chargeback stands."""

    deposit: DepositRef
    dispute_reference: str
    reason: str = ""


@dataclass(frozen=True, slots=True)
class DisputeEscalated:
    """A later round (second chargeback, pre-arbitration): an operator decides the
    booking; the deposit is flagged and withdrawals freeze. ``stage`` is one of
    ``DisputeStage``."""

    deposit: DepositRef
    dispute_reference: str
    stage: str
    amount_minor: int | None
    currency: str
    reason: str = ""


# --- payouts --------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class PayoutBooked:
    """The money left for the player: the withdrawal is paid."""

    payout: PayoutRef


@dataclass(frozen=True, slots=True)
class PayoutFailed:
    """The payout did not happen; the funds stay held for a retry or a rejection."""

    payout: PayoutRef
    reason: str


@dataclass(frozen=True, slots=True)
class PayoutReturned:
    """A payout that was booked came back (the bank returned it): the money goes
    back to the player, once."""

    payout: PayoutRef
    reason: str


@dataclass(frozen=True, slots=True)
class PayoutProgressed:
    """An intermediate status (received, authorised, ...): nothing changes."""

    payout: PayoutRef
    status: str


# --- everything else ------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class NotActionable:
    """A verified event we keep but do not act on (a type we do not handle, an
    incoming transfer, a refused dispute notification), with why. ``deposit`` names
    the deposit it is about, when it is about one (the inbox row links to it)."""

    note: str
    deposit: DepositRef | None = None


DepositEvent = (
    DepositPaid
    | DepositAwaitingPayment
    | DepositFailed
    | DepositExpired
    | DepositCancelled
)
RefundEvent = RefundSucceeded | RefundTotalReported | RefundFailed
DisputeEvent = (
    DisputeNotified | DisputeOpened | DisputeWon | DisputeLost | DisputeEscalated
)
PayoutEvent = PayoutBooked | PayoutFailed | PayoutReturned | PayoutProgressed
BusinessEvent = DepositEvent | RefundEvent | DisputeEvent | PayoutEvent | NotActionable


@dataclass(frozen=True, slots=True)
class WebhookEvent:
    """One verified notification of a delivery: its identity for the inbox, and the
    business event it means. ``stored_body`` is how the inbox stores this item on its
    own (one item of an Adyen batch), so it can be reparsed alone later."""

    event_id: str  # unique per endpoint; the inbox dedupes on it
    event_type: str  # the PSP's name for it, kept for operators
    occurred_at: int | None
    event: BusinessEvent
    stored_body: str = ""


@dataclass(frozen=True, slots=True)
class Applied:
    """What applying an event did, for the inbox row: the deposit it touched (if
    any), a note, and whether anything other than a deposit was acted on."""

    deposit_id: int | None
    note: str = ""
    handled: bool = False


@dataclass(frozen=True, slots=True)
class RejectedItem:
    """One item of a batch that failed verification while others passed (Adyen
    signs each item): stored as a rejected delivery of its own, reprocessable once
    the key is fixed, while the verified items are applied."""

    stored_body: str
    code: str
    reason: str
