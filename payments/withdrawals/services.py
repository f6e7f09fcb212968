"""The withdrawal flow's services: every door (API, admin, portal, commands) calls
these, never the wallet's transitions directly.

The wallet owns the withdrawal state machine; this module adds what the wallet must
not know: which provider pays a withdrawal out, and calling it. Dispatch runs after
the deciding transaction commits (``transaction.on_commit``), so no row lock is held
while a provider is called.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from django.db import transaction

from casino.models import Player
from common import clock
from common.actors import Actor
from common.crypto import decrypt_json
from common.queue import task_enqueue_on_commit
from payments.config.services import psp_config_ensure_simulated
from payments.deposits.refunds import refund_dispatch, refund_request
from payments.exceptions import (
    PayoutOutcomeMustBeAsked,
    ProviderError,
    ProviderNotConfigured,
    ProviderUnavailable,
)
from payments.models import Refund
from payments.providers.base import PaymentProvider, PayoutRequest, PayoutResult
from payments.providers.registry import (
    provider_build,
    provider_operator_settles_payouts,
)
from payments.providers.stripe.provider import simulator_enabled
from payments.selectors import payment_route_get, psp_config_for_payout
from payments.withdrawals.closed_loop import PayoutPlan, withdrawal_payout_name_check
from tenants.features import tenant_provider_require
from wallet.exceptions import (
    PaymentCooldownActive,
    PaymentRetryLimitExceeded,
    PayoutRetryNotAllowed,
)
from wallet.models import PayoutAttempt, Withdrawal
from wallet.services import (
    payout_attempt_claim,
    payout_attempt_outcome_unknown,
    payout_attempt_provider_reference_set,
    refund_leg_key,
    withdrawal_approve,
    withdrawal_cancel,
    withdrawal_hold_split,
    withdrawal_payout_failed,
    withdrawal_payout_retry,
    withdrawal_payout_start,
    withdrawal_payout_succeeded,
    withdrawal_reject,
    withdrawal_request,
    withdrawal_retry_blocked_record,
)

logger = logging.getLogger(__name__)

AUTO_APPROVE = Actor.system("auto-approve")


def payout_provider_for(withdrawal: Withdrawal) -> str:
    """The provider that pays this withdrawal out: the brand's payment route for the
    withdrawal's currency (admin: Payments › Payment routes), ``manual`` without one."""
    provider = payment_route_get(
        tenant_id=withdrawal.tenant_id, currency=withdrawal.currency
    ).payout
    tenant_provider_require(tenant=withdrawal.tenant_id, provider=provider)
    return provider


def _dispatch_after_commit(attempt: PayoutAttempt) -> None:
    # On a worker (payments.tasks); a lost message leaves the attempt pending, which
    # the outbox sweep re-drives.
    task_enqueue_on_commit("payments.payout_dispatch", attempt_id=attempt.pk)


def _payout_start(*, withdrawal: Withdrawal, actor: Actor) -> PayoutAttempt | None:
    attempt = withdrawal_payout_start(
        withdrawal=withdrawal, provider=payout_provider_for(withdrawal), actor=actor
    )
    if attempt is not None:
        _dispatch_after_commit(attempt)
    return attempt


def withdrawal_submit(
    *,
    player: Player,
    amount_minor: int,
    currency: str,
    destination: Mapping[str, Any],
    idempotency_key: str,
) -> tuple[Withdrawal, bool]:
    """A player's withdrawal request; an auto-approved one starts its payout at once.
    Joins the caller's transaction."""
    with transaction.atomic(savepoint=False):
        withdrawal, created = withdrawal_request(
            player=player,
            amount_minor=amount_minor,
            currency=currency,
            destination=destination,
            idempotency_key=idempotency_key,
            actor=Actor.for_player(player),
        )
        if created and withdrawal.state == Withdrawal.State.APPROVED:
            _payout_start(withdrawal=withdrawal, actor=AUTO_APPROVE)
            withdrawal.refresh_from_db()
    return withdrawal, created


def withdrawal_review_approve(
    *, withdrawal: Withdrawal, actor: Actor
) -> tuple[Withdrawal, bool]:
    """An operator approves: requested → approved → payout_pending, dispatched after
    commit. Joins the caller's transaction; a repeat changes nothing."""
    with transaction.atomic(savepoint=False):
        # issue 13: closed loop (the name check returns the plan it checked)
        plan = withdrawal_payout_name_check(withdrawal=withdrawal)
        withdrawal, changed = withdrawal_approve(withdrawal=withdrawal, actor=actor)
        if changed and withdrawal.state == Withdrawal.State.APPROVED:
            _closed_loop_payout_start(withdrawal=withdrawal, plan=plan, actor=actor)
            withdrawal.refresh_from_db()
    return withdrawal, changed


def _closed_loop_payout_start(
    *, withdrawal: Withdrawal, plan: PayoutPlan, actor: Actor
) -> PayoutAttempt | None:
    """Execute an approved withdrawal's plan: each refund leg as a refund of its
    deposit (request key ``withdrawal:{id}:refund-leg:{deposit_id}``) paid from a
    hold of its own, and the bank remainder, if any, as the payout. Everything is
    written in the caller's transaction; the PSP calls leave after commit. Locks
    the withdrawal row, then each deposit row (``refund_request``)."""
    legs = [
        (leg.deposit_id, leg.amount_minor)
        for leg in plan.legs
        if leg.kind == "refund" and leg.deposit_id is not None
    ]
    if legs:
        holds = withdrawal_hold_split(withdrawal=withdrawal, legs=legs, actor=actor)
        for deposit_id, amount_minor in legs:
            refund_request(
                deposit_id=deposit_id,
                tenant_id=withdrawal.tenant_id,
                amount_minor=amount_minor,
                reason=f"closed-loop payout of withdrawal #{withdrawal.pk}",
                actor=actor,
                request_key=refund_leg_key(
                    withdrawal_id=withdrawal.pk, deposit_id=deposit_id
                ),
                hold_id=holds[deposit_id].pk,
            )
        withdrawal.refresh_from_db()
        if plan.bank_minor == 0:
            return None  # paid when the last refund is final
    return _payout_start(withdrawal=withdrawal, actor=actor)


def closed_loop_legs_redrive(*, withdrawal_id: int) -> int:
    """Send again the refund legs of a withdrawal that never reached their PSP (a
    crash between commit and dispatch); re-drivable from the rows alone, harmless to
    repeat (``refund_dispatch`` skips what was sent, the PSP dedupes by key).
    Returns how many were sent."""
    unsent = Refund.objects.filter(
        hold__refund_leg_of_id=withdrawal_id,
        state=Refund.State.PENDING,
        provider_reference="",
    ).values_list("pk", flat=True)
    sent = 0
    for refund_id in list(unsent):
        refund_dispatch(refund_id=refund_id)
        sent += 1
    return sent


_RETRY_REFUSALS = (
    PaymentRetryLimitExceeded,
    PaymentCooldownActive,
    PayoutRetryNotAllowed,
)


def payout_retry(
    *,
    withdrawal: Withdrawal,
    actor: Actor,
    by_player: bool,
    after_attempt_id: int | None = None,
    request_key: str = "",
) -> PayoutAttempt | None:
    """Retry a failed payout (TENANT-POLICY-002), for the API and the admin alike.
    ``None`` when it already happened: a newer attempt than ``after_attempt_id``
    exists, or one was made for the same ``request_key`` (Idempotency-Key).

    Owns its transactions, unlike the other doors: a policy refusal rolls the retry
    back whole and then leaves one audit row in a transaction of its own."""
    try:
        with transaction.atomic(durable=True):
            attempt = withdrawal_payout_retry(
                withdrawal=withdrawal,
                provider=payout_provider_for(withdrawal),
                actor=actor,
                by_player=by_player,
                after_attempt_id=after_attempt_id,
                request_key=request_key,
            )
            if attempt is not None:
                _dispatch_after_commit(attempt)
    except _RETRY_REFUSALS as refusal:
        with transaction.atomic(durable=True):
            withdrawal_retry_blocked_record(
                withdrawal=withdrawal, actor=actor, error=refusal
            )
        logger.info(
            "withdrawal.payout_retry_blocked",
            extra={"withdrawal_id": withdrawal.pk, "code": refusal.code},
        )
        raise
    return attempt


def withdrawal_review_reject(
    *, withdrawal: Withdrawal, actor: Actor, reason: str
) -> tuple[Withdrawal, bool]:
    """An operator rejects: the hold is voided. Joins the caller's transaction."""
    return withdrawal_reject(withdrawal=withdrawal, actor=actor, reason=reason)


def withdrawal_cancel_by_player(
    *, withdrawal: Withdrawal, actor: Actor
) -> tuple[Withdrawal, bool]:
    """The player takes back a withdrawal awaiting review; a repeat changes nothing
    (``changed`` False). Joins the caller's transaction."""
    return withdrawal_cancel(withdrawal=withdrawal, actor=actor)


def payout_outcome_settle_by_operator_check(*, attempt: PayoutAttempt) -> None:
    """Only an operator-settled provider (manual bank transfer) may be marked paid
    or failed by hand. A PSP payout whose outcome is unknown is settled by asking
    the PSP (``reconciliation.payout_attempt_status_check``), never by a guess: marking it failed
    and retrying could pay the player twice."""
    if not provider_operator_settles_payouts(attempt.provider):
        raise PayoutOutcomeMustBeAsked(
            details={"attempt": attempt.number, "provider": attempt.provider}
        )


def _payout_request(attempt: PayoutAttempt) -> PayoutRequest:
    """The request an attempt sends, the same every time it is sent (its key)."""
    withdrawal = attempt.withdrawal
    return PayoutRequest(
        withdrawal_id=withdrawal.pk,
        attempt_id=attempt.pk,
        # The bank leg: the whole amount, or what a closed-loop split left to it.
        amount_minor=withdrawal.hold.amount_minor,
        currency=withdrawal.currency,
        destination=decrypt_json(withdrawal.destination_encrypted),
        idempotency_key=attempt.idempotency_key,
        reference=f"withdrawal:{withdrawal.pk}",
    )


def _payout_provider(attempt: PayoutAttempt) -> PaymentProvider:
    config = psp_config_for_payout(
        tenant_id=attempt.tenant_id, provider=attempt.provider
    )
    if (
        config is None
        and not provider_operator_settles_payouts(attempt.provider)
        and simulator_enabled()
    ):
        config = psp_config_ensure_simulated(
            tenant=attempt.withdrawal.tenant, provider=attempt.provider
        )
    return provider_build(name=attempt.provider, config=config)


def payout_attempt_reask(*, attempt: PayoutAttempt) -> PayoutResult | None:
    """Ask the PSP what became of a payout whose answer we never recorded: it timed
    out, answered garbage, or the process died between the PSP's answer and the
    commit that records it. Nobody guesses: the attempt's own request is sent again
    with its own idempotency key, so the PSP answers with the payout it already
    made, or makes it now; there is at most one payout per key either way. The
    reference it gives is recorded (the PSP can then be asked for the outcome); a
    synchronous refusal in the answer fails the attempt as the first send would
    have. Joins no transaction: the PSP is called with none open.

    ``None`` when the PSP cannot be asked this way: the provider's idempotency
    window (``PaymentProvider.payout_idempotency_window``) is unknown or has
    passed since the attempt was made, so a new send could pay twice."""
    provider = _payout_provider(attempt)
    window = provider.payout_idempotency_window
    if window is None or attempt.created_at < clock.now() - window:
        return None
    result = provider.send_payout(_payout_request(attempt))
    psp = Actor.psp(attempt.provider)
    with transaction.atomic(durable=True):
        if result.status == "failed":
            withdrawal_payout_failed(
                attempt=attempt,
                actor=psp,
                reason=result.failure_reason or "refused by the provider",
            )
        elif result.provider_reference:
            payout_attempt_provider_reference_set(
                attempt=attempt, provider_reference=result.provider_reference
            )
    logger.info(
        "withdrawal.payout_reasked",
        extra={"attempt_id": attempt.pk, "status": result.status},
    )
    return result


def payout_dispatch(*, attempt_id: int) -> None:
    """Send one payout attempt to its provider. Runs after commit with no lock held;
    each outcome is recorded in a transaction of its own. An attempt is sent at most
    once (claimed first); a provider that does not answer leaves the withdrawal
    payout_pending with its funds held."""
    with transaction.atomic(durable=True):
        attempt = payout_attempt_claim(attempt_id=attempt_id)
    if attempt is None:
        return
    withdrawal = attempt.withdrawal
    psp = Actor.psp(attempt.provider)
    request = _payout_request(attempt)
    log = {"withdrawal_id": withdrawal.pk, "attempt": attempt.number}
    try:
        result = _payout_provider(attempt).send_payout(request)
    except ProviderUnavailable as exc:
        logger.warning("withdrawal.payout_outcome_unknown", extra=log)
        with transaction.atomic(durable=True):
            payout_attempt_outcome_unknown(
                attempt=attempt, actor=psp, detail=exc.message
            )
        return
    except (ProviderError, ProviderNotConfigured) as exc:
        # Refused, or never sent (no config): the payout did not happen.
        logger.info("withdrawal.payout_refused", extra=log)
        with transaction.atomic(durable=True):
            withdrawal_payout_failed(attempt=attempt, actor=psp, reason=exc.message)
        return
    except Exception:
        # We cannot tell whether money left: treat it like a timeout.
        logger.exception("withdrawal.payout_dispatch_crashed", extra=log)
        with transaction.atomic(durable=True):
            payout_attempt_outcome_unknown(
                attempt=attempt, actor=psp, detail="dispatch error"
            )
        return
    with transaction.atomic(durable=True):
        if result.status == "paid":
            withdrawal_payout_succeeded(
                attempt=attempt,
                actor=psp,
                provider_reference=result.provider_reference,
            )
        elif result.status == "failed":
            withdrawal_payout_failed(
                attempt=attempt,
                actor=psp,
                reason=result.failure_reason or "refused by the provider",
            )
        else:
            payout_attempt_provider_reference_set(
                attempt=attempt, provider_reference=result.provider_reference
            )
    logger.info("withdrawal.payout_sent", extra={**log, "status": result.status})
