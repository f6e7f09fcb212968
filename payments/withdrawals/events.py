"""Payout events → the withdrawal lifecycle, the same for every PSP.

A provider has turned its transfer notification into ``PayoutBooked`` (the money
left: the hold is posted), ``PayoutFailed`` (the payout did not happen: the funds
stay held and the tenant's retry policy, TENANT-POLICY-002, decides what next),
``PayoutReturned`` (a booked payout came back: the player is re-credited, once) or
``PayoutProgressed`` (nothing changes). Runs inside the webhook inbox's transaction.
"""

from __future__ import annotations

import logging

from common.actors import Actor
from common.errors import IllegalStateTransition
from payments import events
from payments.events import Applied, PayoutRef
from wallet import services as wallet
from wallet.models import PayoutAttempt

logger = logging.getLogger(__name__)

PAYOUT_EVENTS = (
    events.PayoutBooked,
    events.PayoutFailed,
    events.PayoutReturned,
    events.PayoutProgressed,
)


def payout_attempt_for_ref(
    *, tenant_id: int, provider: str, ref: PayoutRef
) -> PayoutAttempt | None:
    """By the transfer id we stored when the PSP took the payout; else by the
    attempt id in our reference (the webhook can beat the stored id)."""
    attempts = PayoutAttempt.objects.select_related("withdrawal").filter(
        tenant_id=tenant_id, provider=provider
    )
    if ref.transfer_reference:
        found = attempts.filter(provider_reference=ref.transfer_reference).first()
        if found is not None:
            return found
    if ref.attempt_id is not None:
        return attempts.filter(pk=ref.attempt_id).first()
    return None


def payout_event_apply(
    *, tenant_id: int, provider: str, event: events.PayoutEvent
) -> Applied:
    attempt = payout_attempt_for_ref(
        tenant_id=tenant_id, provider=provider, ref=event.payout
    )
    if attempt is None:
        return Applied(
            None,
            f"no payout of this brand matches transfer {event.payout.transfer_reference}",
        )
    actor = Actor.psp(provider)
    reference = event.payout.transfer_reference
    try:
        if isinstance(event, events.PayoutBooked):
            wallet.withdrawal_payout_succeeded(
                attempt=attempt, actor=actor, provider_reference=reference
            )
            what = "booked"
        elif isinstance(event, events.PayoutFailed):
            wallet.withdrawal_payout_failed(
                attempt=attempt, actor=actor, reason=event.reason
            )
            what = "failed"
        elif isinstance(event, events.PayoutReturned):
            wallet.withdrawal_payout_returned(
                attempt=attempt, actor=actor, reason=event.reason
            )
            what = "returned"
        else:
            return Applied(None, f"transfer {event.status}: in progress", handled=True)
    except IllegalStateTransition as exc:
        # Already resolved another way (e.g. an operator marked it): keep the event,
        # say so, move nothing.
        logger.warning(
            "payout.update_after_resolution",
            extra={"attempt_id": attempt.pk, "event": type(event).__name__},
        )
        return Applied(
            None,
            f"transfer update after the attempt was {exc.details['from_state']}",
            handled=True,
        )
    return Applied(
        None, f"withdrawal {attempt.withdrawal_id}: transfer {what}", handled=True
    )
