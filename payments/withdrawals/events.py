"""Adyen transfer updates (Balance Platform webhooks) → the withdrawal lifecycle.

A payout to Adyen is a Transfers API ``/transfers`` call (``payments.payouts``
dispatches it); Adyen then reports the transfer's progress by webhook. ``booked`` (the
funds left the balance account) or ``credited`` pays the withdrawal (the hold is
posted); ``refused`` / ``failed`` / ``error`` make it ``payout_failed``, after which the
tenant's retry policy (TENANT-POLICY-002) decides whether it may be retried.
Intermediate statuses (``received``, ``authorised``, ``pendingApproval``) change nothing.
"""

from __future__ import annotations

import logging
import re

from common.actors import Actor
from common.errors import IllegalStateTransition
from payments.models import PSPConfig
from payments.providers.base import WebhookEvent
from payments.services import Applied
from wallet.models import PayoutAttempt
from wallet.services import withdrawal_payout_failed, withdrawal_payout_succeeded

logger = logging.getLogger(__name__)

PAID = frozenset({"booked", "credited"})
FAILED = frozenset({"refused", "failed", "error", "cancelled"})
_ATTEMPT_REF = re.compile(r":attempt:(\d+)$")


def _attempt_for(*, config: PSPConfig, event: WebhookEvent) -> PayoutAttempt | None:
    """By the transfer id we stored when Adyen took the payout; else by the attempt
    id in our transfer reference (the webhook can beat the stored id)."""
    attempts = PayoutAttempt.objects.select_related("withdrawal").filter(
        tenant_id=config.tenant_id, provider="adyen"
    )
    found = attempts.filter(provider_reference=event.object_reference).first()
    if found is not None:
        return found
    match = _ATTEMPT_REF.search(event.merchant_reference)
    return attempts.filter(pk=int(match.group(1))).first() if match else None


def transfer_update_apply(*, config: PSPConfig, event: WebhookEvent) -> Applied:
    data = event.payload.get("data") or {}
    status = str(data.get("status") or "")
    if str(data.get("direction") or "outgoing") != "outgoing":
        return Applied(None, f"incoming transfer ({status}): not a payout")
    attempt = _attempt_for(config=config, event=event)
    if attempt is None:
        return Applied(
            None,
            f"no Adyen payout of this brand matches transfer {event.object_reference}",
        )
    actor = Actor.psp("adyen")
    try:
        if status in PAID:
            withdrawal_payout_succeeded(
                attempt=attempt, actor=actor, provider_reference=event.object_reference
            )
        elif status in FAILED:
            withdrawal_payout_failed(
                attempt=attempt,
                actor=actor,
                reason=f"Adyen transfer {status}: {data.get('reason') or 'no reason given'}",
            )
        else:
            return Applied(None, f"transfer {status}: in progress", handled=True)
    except IllegalStateTransition as exc:
        # Already resolved another way (e.g. an operator marked it): keep the event,
        # say so, move nothing.
        logger.warning(
            "adyen.transfer_update_after_resolution",
            extra={"attempt_id": attempt.pk, "status": status},
        )
        return Applied(
            None,
            f"transfer {status} after the attempt was {exc.details['from_state']}",
            handled=True,
        )
    return Applied(
        None, f"withdrawal {attempt.withdrawal_id}: transfer {status}", handled=True
    )
