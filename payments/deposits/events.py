"""Applying verified Adyen notifications through the wallet and payments services.

Each standard notification item is one event (``payments.providers.adyen.webhooks``);
``webhook_receive`` has already stored it raw, verified it and claimed its
``(pspReference, eventCode, success)``; this runs inside ``webhook_process``'s
transaction. Nothing here moves money directly: the wallet's deposit state machine,
``payments.refunds`` and the withdrawal services do, idempotently.
"""

from __future__ import annotations

import logging
import re

from django.utils import timezone

from common.actors import Actor
from payments import refunds
from payments.models import Dispute, PSPConfig
from payments.providers.base import WebhookEvent
from payments.services import Applied
from wallet import services as wallet
from wallet.models import Deposit

logger = logging.getLogger(__name__)

_DEPOSIT_REF = re.compile(r"^deposit:(\d+)$")
_REFUND_REF = re.compile(r"^refund:(\d+)$")

DISPUTE_STAGES = {
    "NOTIFICATION_OF_CHARGEBACK": Dispute.Stage.NOTIFICATION_OF_CHARGEBACK,
    "CHARGEBACK": Dispute.Stage.CHARGEBACK,
    "CHARGEBACK_REVERSED": Dispute.Stage.CHARGEBACK_REVERSED,
    "SECOND_CHARGEBACK": Dispute.Stage.SECOND_CHARGEBACK,
    "PREARBITRATION_WON": Dispute.Stage.PREARBITRATION_WON,
    "PREARBITRATION_LOST": Dispute.Stage.PREARBITRATION_LOST,
}
REFUND_EVENTS = ("REFUND", "REFUND_FAILED", "REFUNDED_REVERSED")


def _deposit_for(*, config: PSPConfig, event: WebhookEvent) -> Deposit | None:
    """The brand's Adyen deposit the item is about: by the payment's pspReference
    (modifications carry it as ``originalReference``), else our ``deposit:<id>``
    merchant reference, else the payment link id. Never another brand's."""
    deposits = Deposit.objects.filter(tenant_id=config.tenant_id, provider="adyen")
    found = deposits.filter(payment_reference=event.object_reference).first()
    if found is not None:
        return found
    match = _DEPOSIT_REF.match(event.merchant_reference)
    if match:
        found = deposits.filter(pk=int(match.group(1))).first()
        if found is not None:
            return found
    link_id = (event.payload.get("additionalData") or {}).get("paymentLinkId")
    if link_id:
        return deposits.filter(provider_reference=str(link_id)).first()
    return None


def adyen_event_apply(*, config: PSPConfig, event: WebhookEvent) -> Applied:
    if event.event_type.startswith("balancePlatform.transfer"):
        from payments.payouts_adyen import transfer_update_apply

        return transfer_update_apply(config=config, event=event)
    deposit = _deposit_for(config=config, event=event)
    if deposit is None:
        return Applied(None, "no Adyen deposit of this brand matches the notification")
    actor = Actor.psp("adyen")
    ids = {"deposit_id": deposit.pk, "tenant_id": config.tenant_id, "actor": actor}
    code = event.event_type
    reason = str(event.payload.get("reason") or "")

    if code == "AUTHORISATION":
        psp_reference = str(event.payload["pspReference"])
        if (
            event.success
            and deposit.state == Deposit.State.COMPLETED
            and deposit.payment_reference not in ("", psp_reference)
        ):
            # Money arrived twice for one deposit: credit nothing more, tell someone.
            wallet.deposit_flag_review(
                **ids,
                reason=f"second successful payment {psp_reference} for a deposit "
                f"paid by {deposit.payment_reference}: not credited",
            )
            return Applied(deposit.pk, "second payment for a completed deposit")
        if event.success:
            wallet.deposit_complete(
                **ids,
                amount_minor=event.amount_minor
                if event.amount_minor is not None
                else -1,
                currency=event.currency or "",
                payment_reference=psp_reference,
            )
            return Applied(deposit.pk)
        if deposit.is_final:
            return Applied(deposit.pk, f"refused authorisation after {deposit.state}")
        wallet.deposit_fail(**ids, reason=f"refused by Adyen: {reason}"[:255])
        return Applied(deposit.pk)

    if code == "CANCELLATION":
        if not event.success:
            return Applied(deposit.pk, "cancellation refused: nothing changes")
        if deposit.state == Deposit.State.COMPLETED:
            wallet.deposit_flag_review(
                **ids, reason="Adyen cancelled a payment that was credited"
            )
        else:
            wallet.deposit_fail(**ids, reason="cancelled at Adyen")
        return Applied(deposit.pk)

    if code in REFUND_EVENTS:
        return _refund_apply(deposit=deposit, event=event, actor=actor, reason=reason)

    if code in DISPUTE_STAGES:
        return _dispute_apply(deposit=deposit, event=event, actor=actor, reason=reason)

    return Applied(deposit.pk, f"event {code} is recorded, not acted on")


def _refund_apply(
    *, deposit: Deposit, event: WebhookEvent, actor: Actor, reason: str
) -> Applied:
    match = _REFUND_REF.match(event.merchant_reference)
    refund_id = int(match.group(1)) if match else None
    psp_reference = str(event.payload["pspReference"])
    if event.event_type == "REFUND" and event.success:
        refunds.refund_succeeded(
            deposit_id=deposit.pk,
            tenant_id=deposit.tenant_id,
            refund_id=refund_id,
            provider_reference=psp_reference,
            amount_minor=event.amount_minor,
            currency=event.currency or "",
            actor=actor,
        )
    else:
        refunds.refund_failed(
            deposit_id=deposit.pk,
            tenant_id=deposit.tenant_id,
            refund_id=refund_id,
            provider_reference=psp_reference,
            reason=f"{event.event_type}: {reason}",
            actor=actor,
        )
    return Applied(deposit.pk)


def _dispute_stage_record(
    *, deposit: Deposit, event: WebhookEvent, stage: str, reason: str
) -> Dispute:
    """One dispute per payment; its stage follows the notifications, except that an
    early warning arriving late never hides a later stage. Every notification is
    kept in ``history``."""
    dispute, _ = Dispute.objects.select_for_update().get_or_create(
        provider="adyen",
        payment_reference=deposit.payment_reference or event.object_reference,
        defaults={
            "tenant_id": deposit.tenant_id,
            "deposit": deposit,
            "stage": stage,
            "amount_minor": event.amount_minor,
            "currency": event.currency or "",
            "reason": reason[:255],
        },
    )
    if not (
        stage == Dispute.Stage.NOTIFICATION_OF_CHARGEBACK
        and dispute.stage != Dispute.Stage.NOTIFICATION_OF_CHARGEBACK
    ):
        dispute.stage = stage
    dispute.history = [
        *dispute.history,
        {
            "stage": stage,
            "event_id": event.event_id,
            "amount_minor": event.amount_minor,
            "currency": event.currency,
            "reason": reason,
            "at": timezone.now().isoformat(),
        },
    ]
    if event.amount_minor is not None:
        dispute.amount_minor = event.amount_minor
    dispute.save()
    return dispute


def _dispute_apply(
    *, deposit: Deposit, event: WebhookEvent, actor: Actor, reason: str
) -> Applied:
    if not event.success:
        return Applied(deposit.pk, f"{event.event_type} with success false: recorded")
    # The deposit row first, as every deposit service locks it: one lock order.
    deposit = Deposit.objects.select_for_update().get(pk=deposit.pk)
    stage = DISPUTE_STAGES[event.event_type]
    _dispute_stage_record(deposit=deposit, event=event, stage=stage, reason=reason)
    ids = {"deposit_id": deposit.pk, "tenant_id": deposit.tenant_id, "actor": actor}
    if stage == Dispute.Stage.CHARGEBACK:
        wallet.deposit_chargeback_record(
            **ids,
            amount_minor=event.amount_minor if event.amount_minor is not None else -1,
            currency=event.currency or "",
        )
    elif stage == Dispute.Stage.CHARGEBACK_REVERSED:
        wallet.deposit_chargeback_reverse(
            **ids, reason=f"chargeback reversed at Adyen ({event.event_id})"
        )
    elif stage == Dispute.Stage.NOTIFICATION_OF_CHARGEBACK:
        wallet.player_withdrawals_freeze(
            player_id=deposit.player_id,
            tenant_id=deposit.tenant_id,
            actor=actor,
            reason=f"chargeback notified on deposit {deposit.pk}",
        )
    else:
        # Second chargeback / pre-arbitration: an operator decides the booking.
        wallet.deposit_flag_review(**ids, reason=f"dispute stage {stage} at Adyen")
        wallet.player_withdrawals_freeze(
            player_id=deposit.player_id,
            tenant_id=deposit.tenant_id,
            actor=actor,
            reason=f"dispute stage {stage} on deposit {deposit.pk}",
        )
    return Applied(deposit.pk)
