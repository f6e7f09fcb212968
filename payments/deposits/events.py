"""Deposit, refund and dispute events → the wallet's deposit state machine.

The same code for every PSP: a provider has already turned its notification into
one of ``payments.events``' deposit, refund or dispute events; this finds the brand's
deposit it names and moves it through ``wallet.services`` (idempotently: every
posting has a key derived from the deposit). Runs inside the webhook inbox's
transaction (``payments.webhooks.services.webhook_delivery_apply``). Nothing here
moves money directly.
"""

from __future__ import annotations

import logging

from django.utils import timezone

from common.actors import Actor
from payments import events
from payments.deposits import refunds
from payments.events import Applied, DepositRef, DisputeStage
from payments.models import Dispute
from wallet import services as wallet
from wallet.models import Deposit

logger = logging.getLogger(__name__)

DEPOSIT_EVENTS = (
    events.DepositPaid,
    events.DepositAwaitingPayment,
    events.DepositFailed,
    events.DepositExpired,
    events.DepositCancelled,
)
REFUND_EVENTS = (
    events.RefundSucceeded,
    events.RefundTotalReported,
    events.RefundFailed,
)
DISPUTE_EVENTS = (
    events.DisputeNotified,
    events.DisputeOpened,
    events.DisputeWon,
    events.DisputeLost,
    events.DisputeEscalated,
)


def deposit_for_ref(
    *, tenant_id: int, provider: str, ref: DepositRef
) -> Deposit | None:
    """The brand's deposit an event names: by the payment that paid it, else our
    deposit id, else the checkout the PSP opened for it. Never another brand's."""
    deposits = Deposit.objects.filter(tenant_id=tenant_id, provider=provider)
    if ref.payment_reference:
        found = deposits.filter(payment_reference=ref.payment_reference).first()
        if found is not None:
            return found
    if ref.deposit_id is not None:
        found = deposits.filter(pk=ref.deposit_id).first()
        if found is not None:
            return found
    if ref.checkout_reference:
        return deposits.filter(provider_reference=ref.checkout_reference).first()
    return None


def deposit_event_apply(
    *, tenant_id: int, provider: str, event: events.BusinessEvent
) -> Applied:
    """Apply one deposit, refund or dispute event of a brand's endpoint."""
    if isinstance(event, events.NotActionable):
        deposit = (
            deposit_for_ref(tenant_id=tenant_id, provider=provider, ref=event.deposit)
            if event.deposit is not None
            else None
        )
        return Applied(deposit.pk if deposit else None, event.note)
    deposit = deposit_for_ref(tenant_id=tenant_id, provider=provider, ref=event.deposit)
    if deposit is None:
        return Applied(None, "no deposit of this brand matches the event")
    actor = Actor.psp(provider)
    if isinstance(event, DEPOSIT_EVENTS):
        return _deposit_event(deposit=deposit, event=event, actor=actor)
    if isinstance(event, REFUND_EVENTS):
        return _refund_event(deposit=deposit, event=event, actor=actor)
    return _dispute_event(deposit=deposit, event=event, actor=actor)


# --- payments ------------------------------------------------------------------------


def _deposit_event(*, deposit: Deposit, event, actor: Actor) -> Applied:
    ids = {"deposit_id": deposit.pk, "tenant_id": deposit.tenant_id, "actor": actor}
    checkout = getattr(event, "checkout_reference", "")
    if (
        checkout
        and deposit.provider_reference
        and checkout != deposit.provider_reference
    ):
        wallet.deposit_flag_review(
            **ids,
            reason=f"event for checkout {checkout}, but the deposit's checkout is "
            f"{deposit.provider_reference}",
        )
        return Applied(deposit.pk, "checkout does not match: flagged")

    if isinstance(event, events.DepositPaid):
        if (
            deposit.state == Deposit.State.COMPLETED
            and deposit.payment_reference
            not in (
                "",
                event.payment_reference,
            )
        ):
            # Money arrived twice for one deposit: credit nothing more, tell someone.
            wallet.deposit_flag_review(
                **ids,
                reason=f"second successful payment {event.payment_reference} for a "
                f"deposit paid by {deposit.payment_reference}: not credited",
            )
            return Applied(deposit.pk, "second payment for a completed deposit")
        wallet.deposit_complete(
            **ids,
            amount_minor=event.amount_minor if event.amount_minor is not None else -1,
            currency=event.currency,
            payment_reference=event.payment_reference,
        )
    elif isinstance(event, events.DepositAwaitingPayment):
        return Applied(deposit.pk, "not paid yet: waiting for async payment")
    elif isinstance(event, events.DepositFailed):
        if deposit.is_final:
            return Applied(deposit.pk, f"payment failure after {deposit.state}")
        wallet.deposit_fail(**ids, reason=event.reason)
    elif isinstance(event, events.DepositExpired):
        wallet.deposit_expire(**ids)
    elif isinstance(event, events.DepositCancelled):
        if deposit.state == Deposit.State.COMPLETED:
            wallet.deposit_flag_review(
                **ids, reason="the PSP cancelled a payment that was credited"
            )
        else:
            wallet.deposit_fail(**ids, reason="cancelled at the PSP")
    return Applied(deposit.pk)


# --- refunds -------------------------------------------------------------------------


def _refund_event(*, deposit: Deposit, event, actor: Actor) -> Applied:
    ids = {"deposit_id": deposit.pk, "tenant_id": deposit.tenant_id, "actor": actor}
    if isinstance(event, events.RefundSucceeded):
        refunds.refund_succeeded(
            **ids,
            refund_id=event.refund_id,
            provider_reference=event.refund_reference,
            amount_minor=event.amount_minor,
            currency=event.currency,
        )
    elif isinstance(event, events.RefundTotalReported):
        refunds.refund_total_reported(
            **ids,
            refunded_total_minor=event.refunded_total_minor,
            currency=event.currency,
        )
    else:
        refunds.refund_failed(
            **ids,
            refund_id=event.refund_id,
            provider_reference=event.refund_reference,
            reason=event.reason,
        )
    return Applied(deposit.pk)


# --- disputes: one lifecycle for every PSP ---------------------------------------------

# A warning arriving late never hides a later stage.
_EARLY = (DisputeStage.NOTIFIED,)


def _dispute_stage_record(
    *,
    deposit: Deposit,
    provider: str,
    event,
    stage: str,
    amount_minor: int | None = None,
    currency: str = "",
) -> Dispute:
    """One dispute per payment; its stage follows the events, and every event is
    kept in ``history``."""
    reason = getattr(event, "reason", "")
    dispute, _ = Dispute.objects.select_for_update(no_key=True).get_or_create(
        provider=provider,
        payment_reference=deposit.payment_reference
        or event.deposit.payment_reference
        or f"deposit:{deposit.pk}",
        defaults={
            "tenant_id": deposit.tenant_id,
            "deposit": deposit,
            "stage": stage,
            "amount_minor": amount_minor,
            "currency": currency,
            "reason": reason[:255],
        },
    )
    if not (stage in _EARLY and dispute.stage not in _EARLY):
        dispute.stage = stage
    dispute.history = [
        *dispute.history,
        {
            "stage": stage,
            "dispute_reference": event.dispute_reference,
            "amount_minor": amount_minor,
            "currency": currency,
            "reason": reason,
            "at": timezone.now().isoformat(),
        },
    ]
    if amount_minor is not None:
        dispute.amount_minor = amount_minor
    dispute.save()
    return dispute


def _dispute_event(*, deposit: Deposit, event, actor: Actor) -> Applied:
    # The deposit row first, as every deposit service locks it: one lock order.
    deposit = Deposit.objects.select_for_update(no_key=True).get(pk=deposit.pk)
    provider = deposit.provider
    ids = {"deposit_id": deposit.pk, "tenant_id": deposit.tenant_id, "actor": actor}
    freeze = {
        "player_id": deposit.player_id,
        "tenant_id": deposit.tenant_id,
        "actor": actor,
    }
    if isinstance(event, events.DisputeNotified):
        _dispute_stage_record(
            deposit=deposit,
            provider=provider,
            event=event,
            stage=DisputeStage.NOTIFIED,
            amount_minor=event.amount_minor,
            currency=event.currency,
        )
        wallet.player_withdrawals_freeze(
            **freeze, reason=f"chargeback notified on deposit {deposit.pk}"
        )
    elif isinstance(event, events.DisputeOpened):
        _dispute_stage_record(
            deposit=deposit,
            provider=provider,
            event=event,
            stage=DisputeStage.CHARGEBACK,
            amount_minor=event.amount_minor,
            currency=event.currency,
        )
        wallet.deposit_chargeback_record(
            **ids,
            amount_minor=event.amount_minor if event.amount_minor is not None else -1,
            currency=event.currency,
        )
    elif isinstance(event, events.DisputeWon):
        _dispute_stage_record(
            deposit=deposit, provider=provider, event=event, stage=DisputeStage.WON
        )
        wallet.deposit_chargeback_reverse(
            **ids, reason=f"dispute won ({event.dispute_reference})"
        )
    elif isinstance(event, events.DisputeLost):
        # Final: the chargeback already booked stands.
        _dispute_stage_record(
            deposit=deposit, provider=provider, event=event, stage=DisputeStage.LOST
        )
    else:  # DisputeEscalated: an operator decides the booking.
        _dispute_stage_record(
            deposit=deposit,
            provider=provider,
            event=event,
            stage=event.stage,
            amount_minor=event.amount_minor,
            currency=event.currency,
        )
        wallet.deposit_flag_review(**ids, reason=f"dispute stage {event.stage}")
        wallet.player_withdrawals_freeze(
            **freeze, reason=f"dispute stage {event.stage} on deposit {deposit.pk}"
        )
    return Applied(deposit.pk)
