"""The withdrawal state machine and its payout attempts, built on ledger holds."""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import math
from collections.abc import Mapping, Sequence
from typing import Any

from django.conf import settings
from django.db import transaction

from audit.services import audit_record
from casino.models import Player
from common import clock
from common.actors import Actor
from common.errors import (
    ApplicationError,
    IdempotencyKeyReuseConflict,
    IllegalStateTransition,
    ValidationFailed,
)
from tenants.features import tenant_feature_enabled
from tenants.services import tenant_policy_get
from wallet.compliance.approvals import (
    withdrawal_cancel_allowed_check,
    withdrawal_first_approval_record,
)
from wallet.compliance.risk import withdrawal_review_reasons
from wallet.destinations import (
    destination_encrypt,
    destination_mask,
    destination_normalize,
)
from wallet.exceptions import (
    PaymentCooldownActive,
    PaymentRetryLimitExceeded,
    PayoutRetryNotAllowed,
)
from wallet.models import (
    Hold,
    JournalTransaction,
    PayoutAttempt,
    Withdrawal,
)
from wallet.services.ledger import (
    PostingLine,
    hold_place,
    hold_post,
    hold_void,
    player_accounts_get_or_create,
    transaction_post,
)
from wallet.services.policies import (
    withdrawal_auto_approvable,
    withdrawal_policy_check,
)

logger = logging.getLogger(__name__)

Kind = JournalTransaction.Kind


# --- withdrawals -----------------------------------------------------------------------
#
# One state machine for every door (API, admin, payout dispatch). Each service joins
# the caller's transaction and locks what it changes: the player row for a request
# (so policy checks and the insert are one step per player), the withdrawal row for
# everything after. Lock order: player → withdrawal → payout attempt → hold → accounts.

W = Withdrawal.State

_WITHDRAWAL_TRANSITIONS: dict[str, set[str]] = {
    W.REQUESTED: {W.APPROVED, W.REJECTED, W.CANCELED},
    W.APPROVED: {W.PAYOUT_PENDING},
    # → returned: a closed-loop bank leg paid, then returned, before the last
    # refund leg was final (withdrawal_payout_returned checks the attempt is paid).
    W.PAYOUT_PENDING: {W.PAID, W.PAYOUT_FAILED, W.RETURNED},
    W.PAYOUT_FAILED: {W.PAYOUT_PENDING, W.REJECTED},
    W.PAID: {W.RETURNED},
}


def _withdrawal_move(withdrawal: Withdrawal, to_state: str) -> str:
    """Check and apply a transition on a locked row (saved by the caller)."""
    from_state = withdrawal.state
    if to_state not in _WITHDRAWAL_TRANSITIONS.get(from_state, set()):
        raise IllegalStateTransition(
            entity="withdrawal", from_state=from_state, to_state=to_state
        )
    withdrawal.state = to_state
    return from_state


def _withdrawal_lock(withdrawal: Withdrawal) -> Withdrawal:
    return Withdrawal.objects.select_for_update(no_key=True).get(pk=withdrawal.pk)


def _withdrawal_fingerprint(
    *, amount_minor: int, currency: str, destination: Mapping[str, str]
) -> str:
    # Keyed, so the stored hash cannot be used to guess the IBAN it covers.
    payload = json.dumps(
        {"amount_minor": amount_minor, "currency": currency, "to": destination},
        sort_keys=True,
    )
    return hmac.new(
        settings.SECRET_KEY.encode(), payload.encode(), hashlib.sha256
    ).hexdigest()


def withdrawal_request(
    *,
    player: Player,
    amount_minor: int,
    currency: str,
    destination: Mapping[str, Any],
    idempotency_key: str,
    actor: Actor,
) -> tuple[Withdrawal, bool]:
    """Record a withdrawal and hold its funds; ``(withdrawal, created)``.

    Takes the player row lock first, so a repeat of the same key, the velocity and
    daily limits and the balance are checked and written as one step per player. A
    repeat with the same key and request returns the first withdrawal (created False);
    with a different request it raises ``IdempotencyKeyReuseConflict``. Below the
    tenant's auto-approve threshold the withdrawal comes back ``approved``."""
    normalized = destination_normalize(destination)
    fingerprint = _withdrawal_fingerprint(
        amount_minor=amount_minor, currency=currency, destination=normalized
    )
    with transaction.atomic(savepoint=False):
        locked = Player.objects.select_for_update(no_key=True).get(pk=player.pk)
        existing = Withdrawal.objects.filter(
            player=locked, idempotency_key=idempotency_key
        ).first()
        if existing is not None:
            if existing.request_hash != fingerprint:
                raise IdempotencyKeyReuseConflict(
                    details={"idempotency_key": idempotency_key}
                )
            return existing, False

        policy = tenant_policy_get(tenant=locked.tenant)
        now = clock.now()
        withdrawal_policy_check(
            player=locked,
            policy=policy,
            currency=currency,
            amount_minor=amount_minor,
            now=now,
        )

        withdrawal = Withdrawal.objects.create(
            tenant_id=locked.tenant_id,
            player=locked,
            currency=currency,
            amount_minor=amount_minor,
            idempotency_key=idempotency_key,
            request_hash=fingerprint,
            destination_encrypted=destination_encrypt(normalized),
            destination_masked=destination_mask(normalized),
            requested_at=now,
        )
        withdrawal.hold = hold_place(
            player=locked,
            currency=currency,
            amount_minor=amount_minor,
            idempotency_key=f"withdrawal:{withdrawal.pk}:hold",
            actor=actor,
            reference=f"withdrawal:{withdrawal.pk}",
        )
        withdrawal.save(update_fields=["hold", "updated_at"])
        # Issue 13: any risk flag sends it to review, whatever the amount.
        review_reasons = withdrawal_review_reasons(
            player=locked,
            currency=currency,
            amount_minor=amount_minor,
            holder_name=normalized["holder_name"],
            now=now,
        )
        audit_record(
            actor=actor,
            action="withdrawal.requested",
            tenant_id=withdrawal.tenant_id,
            target=withdrawal,
            after={
                "state": withdrawal.state,
                "amount_minor": amount_minor,
                "currency": currency,
                "destination": withdrawal.destination_masked,
                "review_reasons": review_reasons,
            },
        )
        if (
            not review_reasons
            and tenant_feature_enabled(
                tenant=player.tenant_id, feature="withdrawals_auto_approve"
            )
            and withdrawal_auto_approvable(
                policy=policy, currency=currency, amount_minor=amount_minor
            )
        ):
            _withdrawal_move(withdrawal, W.APPROVED)
            withdrawal.auto_approved = True
            withdrawal.reviewed_at = now
            withdrawal.save(
                update_fields=["state", "auto_approved", "reviewed_at", "updated_at"]
            )
            audit_record(
                actor=Actor.system("auto-approve"),
                action="withdrawal.approved",
                tenant_id=withdrawal.tenant_id,
                target=withdrawal,
                before={"state": W.REQUESTED},
                after={"state": W.APPROVED, "auto_approved": True},
            )
    logger.info(
        "withdrawal.requested",
        extra={"withdrawal_id": withdrawal.pk, "state": withdrawal.state},
    )
    return withdrawal, True


def withdrawal_approve(
    *, withdrawal: Withdrawal, actor: Actor
) -> tuple[Withdrawal, bool]:
    """requested → approved; ``(withdrawal, changed)``. Locks the withdrawal row. A
    repeat (double click, a second operator) changes nothing and audits nothing."""
    with transaction.atomic(savepoint=False):
        locked = _withdrawal_lock(withdrawal)
        if locked.state in (W.APPROVED, W.PAYOUT_PENDING, W.PAID, W.PAYOUT_FAILED):
            return locked, False
        if locked.state == W.REQUESTED and withdrawal_first_approval_record(
            withdrawal=locked, actor=actor
        ):
            return locked, True  # issue 13: awaits a second operator
        before = _withdrawal_move(locked, W.APPROVED)
        locked.reviewed_by_id = actor.user_id
        locked.reviewed_at = clock.now()
        locked.save(update_fields=["state", "reviewed_by", "reviewed_at", "updated_at"])
        audit_record(
            actor=actor,
            action="withdrawal.approved",
            tenant_id=locked.tenant_id,
            target=locked,
            before={"state": before},
            after={"state": locked.state},
        )
    return locked, True


def _withdrawal_release(
    *, withdrawal: Withdrawal, actor: Actor, to_state: str, action: str, reason: str
) -> tuple[Withdrawal, bool]:
    with transaction.atomic(savepoint=False):
        locked = _withdrawal_lock(withdrawal)
        if locked.state == to_state:
            return locked, False
        before = _withdrawal_move(locked, to_state)
        hold_void(hold=locked.hold, actor=actor)
        fields = ["state", "updated_at"]
        if to_state == W.REJECTED:
            locked.rejection_reason = reason
            locked.reviewed_by_id = actor.user_id
            locked.reviewed_at = clock.now()
            fields += ["rejection_reason", "reviewed_by", "reviewed_at"]
        locked.save(update_fields=fields)
        audit_record(
            actor=actor,
            action=action,
            tenant_id=locked.tenant_id,
            target=locked,
            before={"state": before},
            after={"state": locked.state},
            reason=reason,
        )
    return locked, True


def withdrawal_reject(
    *, withdrawal: Withdrawal, actor: Actor, reason: str
) -> tuple[Withdrawal, bool]:
    """requested | payout_failed → rejected, the hold voided back to available. A
    reason is required. Locks the withdrawal row; a repeat is a no-op."""
    if not reason.strip():
        raise ValidationFailed(
            "A reason is required.", details={"fields": {"reason": ["required"]}}
        )
    return _withdrawal_release(
        withdrawal=withdrawal,
        actor=actor,
        to_state=W.REJECTED,
        action="withdrawal.rejected",
        reason=reason.strip(),
    )


def withdrawal_cancel(
    *, withdrawal: Withdrawal, actor: Actor
) -> tuple[Withdrawal, bool]:
    """The player takes back a withdrawal still awaiting review (requested →
    canceled, hold voided). Locks the withdrawal row; a repeat is a no-op."""
    # Issue 13: cancel-while-requested is the brand's choice; never once approved.
    withdrawal_cancel_allowed_check(withdrawal=withdrawal)
    return _withdrawal_release(
        withdrawal=withdrawal,
        actor=actor,
        to_state=W.CANCELED,
        action="withdrawal.canceled",
        reason="",
    )


def _payout_attempt_create(
    *,
    withdrawal: Withdrawal,
    number: int,
    provider: str,
    actor: Actor,
    request_key: str = "",
) -> PayoutAttempt:
    return PayoutAttempt.objects.create(
        request_key=request_key,
        tenant_id=withdrawal.tenant_id,
        withdrawal=withdrawal,
        number=number,
        provider=provider,
        idempotency_key=f"withdrawal:{withdrawal.pk}:payout:{number}",
        actor_label=actor.label,
        created_at=clock.now(),
    )


def withdrawal_payout_start(
    *, withdrawal: Withdrawal, provider: str, actor: Actor
) -> PayoutAttempt | None:
    """approved → payout_pending with attempt 1 (the caller dispatches it after
    commit). Locks the withdrawal row; returns None when the payout already started."""
    with transaction.atomic(savepoint=False):
        locked = _withdrawal_lock(withdrawal)
        if locked.state in (W.PAYOUT_PENDING, W.PAID, W.PAYOUT_FAILED):
            return None
        before = _withdrawal_move(locked, W.PAYOUT_PENDING)
        locked.save(update_fields=["state", "updated_at"])
        attempt = _payout_attempt_create(
            withdrawal=locked, number=1, provider=provider, actor=actor
        )
        audit_record(
            actor=actor,
            action="withdrawal.payout_started",
            tenant_id=locked.tenant_id,
            target=locked,
            before={"state": before},
            after={"state": locked.state, "attempt": 1, "provider": provider},
        )
    return attempt


def withdrawal_payout_retry(
    *,
    withdrawal: Withdrawal,
    provider: str,
    actor: Actor,
    by_player: bool,
    after_attempt_id: int | None = None,
    request_key: str = "",
) -> PayoutAttempt | None:
    """payout_failed → payout_pending with a new attempt (TENANT-POLICY-002).

    Locks the withdrawal row, then checks, in order: the state, whether the player
    may retry (``PayoutRetryNotAllowed``), the retry limit (retries so far =
    attempts - 1; ``PaymentRetryLimitExceeded``) and the cooldown since the last
    attempt (``PaymentCooldownActive``). ``after_attempt_id`` names the failed
    attempt the caller saw: when a newer one exists the retry already happened and
    this returns None (a double click)."""
    with transaction.atomic(savepoint=False):
        locked = _withdrawal_lock(withdrawal)
        if request_key and locked.attempts.filter(request_key=request_key).exists():
            return None  # a repeat of a retry that already happened
        latest = locked.attempts.order_by("-number").first()
        if (
            after_attempt_id is not None
            and latest is not None
            and latest.pk != after_attempt_id
        ):
            return None
        if locked.state != W.PAYOUT_FAILED or latest is None:
            raise IllegalStateTransition(
                entity="withdrawal", from_state=locked.state, to_state=W.PAYOUT_PENDING
            )
        policy = tenant_policy_get(tenant=locked.tenant)
        if by_player and not policy.player_may_retry_payout:
            raise PayoutRetryNotAllowed(details={"withdrawal_id": locked.pk})
        retries_used = latest.number - 1
        if retries_used >= policy.payout_retry_limit:
            raise PaymentRetryLimitExceeded(
                details={
                    "withdrawal_id": locked.pk,
                    "retry_limit": policy.payout_retry_limit,
                    "retries_used": retries_used,
                }
            )
        cooldown = policy.payout_cooldown_seconds
        elapsed = (clock.now() - latest.created_at).total_seconds()
        if cooldown and elapsed < cooldown:
            raise PaymentCooldownActive(
                retry_after=math.ceil(cooldown - elapsed),
                details={"withdrawal_id": locked.pk, "cooldown_seconds": cooldown},
            )
        before = _withdrawal_move(locked, W.PAYOUT_PENDING)
        locked.save(update_fields=["state", "updated_at"])
        attempt = _payout_attempt_create(
            withdrawal=locked,
            number=latest.number + 1,
            provider=provider,
            actor=actor,
            request_key=request_key,
        )
        audit_record(
            actor=actor,
            action="withdrawal.payout_retried",
            tenant_id=locked.tenant_id,
            target=locked,
            before={"state": before},
            after={
                "state": locked.state,
                "attempt": attempt.number,
                "retries_used": retries_used + 1,
            },
        )
    return attempt


def withdrawal_retry_blocked_record(
    *, withdrawal: Withdrawal, actor: Actor, error: ApplicationError
) -> None:
    """Audit a refused retry. Written by the caller in its own transaction after the
    refused one rolled back, so the refusal leaves this trace and nothing else."""
    audit_record(
        actor=actor,
        action="withdrawal.payout_retry_blocked",
        tenant_id=withdrawal.tenant_id,
        target=withdrawal,
        after={"code": error.code, "details": error.details},
        reason=error.message,
    )


def payout_attempt_claim(*, attempt_id: int) -> PayoutAttempt | None:
    """pending → sent, before the provider is called: only one dispatcher sends a
    given attempt. Locks the attempt row only; None when it was already claimed or
    resolved (e.g. an operator marked it paid first)."""
    with transaction.atomic(savepoint=False):
        attempt = PayoutAttempt.objects.select_for_update(no_key=True).get(
            pk=attempt_id
        )
        if attempt.state != PayoutAttempt.State.PENDING:
            return None
        attempt.state = PayoutAttempt.State.SENT
        attempt.save(update_fields=["state"])
    return attempt


def payout_attempt_provider_reference_set(
    *, attempt: PayoutAttempt, provider_reference: str
) -> None:
    """The provider took the payout and will tell us the outcome later."""
    PayoutAttempt.objects.filter(pk=attempt.pk).update(
        provider_reference=provider_reference[:200]
    )


def payout_attempt_outcome_unknown(
    *, attempt: PayoutAttempt, actor: Actor, detail: str = ""
) -> None:
    """The provider did not answer (timeout, 5xx). The withdrawal stays
    payout_pending with its funds held until an operator or a status check learns
    the outcome: never voided, never retried blindly."""
    with transaction.atomic(savepoint=False):
        withdrawal = _withdrawal_lock(attempt.withdrawal)
        locked = PayoutAttempt.objects.select_for_update(no_key=True).get(pk=attempt.pk)
        if locked.state != PayoutAttempt.State.SENT:
            return
        locked.state = PayoutAttempt.State.UNKNOWN
        locked.save(update_fields=["state"])
        audit_record(
            actor=actor,
            action="withdrawal.payout_outcome_unknown",
            tenant_id=withdrawal.tenant_id,
            target=withdrawal,
            after={"attempt": locked.number, "state": withdrawal.state},
            reason=detail,
        )


def _open_attempt_lock(*, attempt: PayoutAttempt) -> tuple[Withdrawal, PayoutAttempt]:
    withdrawal = _withdrawal_lock(attempt.withdrawal)
    locked = PayoutAttempt.objects.select_for_update(no_key=True).get(pk=attempt.pk)
    return withdrawal, locked


def withdrawal_payout_succeeded(
    *, attempt: PayoutAttempt, actor: Actor, provider_reference: str
) -> tuple[Withdrawal, bool]:
    """payout_pending → paid: the hold is posted (held → withdrawals in flight).
    With closed-loop refund legs still pending, the hold (the bank leg) is posted
    and the attempt paid, but the withdrawal stays payout_pending until the last
    leg is final. Locks the withdrawal, then the attempt; a repeat is a no-op."""
    with transaction.atomic(savepoint=False):
        withdrawal, locked = _open_attempt_lock(attempt=attempt)
        if locked.state == PayoutAttempt.State.PAID:
            return withdrawal, False
        if locked.state not in PayoutAttempt.OPEN_STATES:
            raise IllegalStateTransition(
                entity="payout_attempt", from_state=locked.state, to_state="paid"
            )
        legs_pending = withdrawal.refund_leg_holds.filter(
            state=Hold.State.PENDING
        ).exists()
        before = withdrawal.state
        if not legs_pending:
            _withdrawal_move(withdrawal, W.PAID)
        hold_post(hold=withdrawal.hold, actor=actor, provider=locked.provider)
        locked.state = PayoutAttempt.State.PAID
        locked.provider_reference = provider_reference[:200]
        locked.resolved_at = clock.now()
        locked.save(update_fields=["state", "provider_reference", "resolved_at"])
        withdrawal.save(update_fields=["state", "updated_at"])
        audit_record(
            actor=actor,
            # Closed loop: the bank leg is paid; the withdrawal is paid when its
            # refund legs are final too (withdrawal_refund_leg_settle).
            action="withdrawal.bank_leg_paid" if legs_pending else "withdrawal.paid",
            tenant_id=withdrawal.tenant_id,
            target=withdrawal,
            before={"state": before},
            after={
                "state": withdrawal.state,
                "attempt": locked.number,
                "reference": locked.provider_reference,
            },
        )
    return withdrawal, True


def withdrawal_payout_failed(
    *, attempt: PayoutAttempt, actor: Actor, reason: str
) -> tuple[Withdrawal, bool]:
    """payout_pending → payout_failed; the funds stay held until a retry or a
    rejection. A reason is required. Locks the withdrawal, then the attempt; a repeat
    is a no-op."""
    if not reason.strip():
        raise ValidationFailed(
            "A reason is required.", details={"fields": {"reason": ["required"]}}
        )
    with transaction.atomic(savepoint=False):
        withdrawal, locked = _open_attempt_lock(attempt=attempt)
        if locked.state == PayoutAttempt.State.FAILED:
            return withdrawal, False
        if locked.state not in PayoutAttempt.OPEN_STATES:
            raise IllegalStateTransition(
                entity="payout_attempt", from_state=locked.state, to_state="failed"
            )
        before = _withdrawal_move(withdrawal, W.PAYOUT_FAILED)
        locked.state = PayoutAttempt.State.FAILED
        locked.failure_reason = reason.strip()
        locked.resolved_at = clock.now()
        locked.save(update_fields=["state", "failure_reason", "resolved_at"])
        withdrawal.save(update_fields=["state", "updated_at"])
        audit_record(
            actor=actor,
            action="withdrawal.payout_failed",
            tenant_id=withdrawal.tenant_id,
            target=withdrawal,
            before={"state": before},
            after={"state": withdrawal.state, "attempt": locked.number},
            reason=reason.strip(),
        )
    return withdrawal, True


def withdrawal_payout_returned(
    *, attempt: PayoutAttempt, actor: Actor, reason: str
) -> tuple[Withdrawal, bool]:
    """The PSP says a payout came back. Booked before (paid): the posting of the
    hold is reversed, so the money is the player's again, once (the reversal key),
    and the withdrawal is ``returned``. Never booked (still open): the payout did not
    happen, as ``withdrawal_payout_failed``. Locks the withdrawal, then the attempt;
    a repeat is a no-op."""
    with transaction.atomic(savepoint=False):
        withdrawal, locked = _open_attempt_lock(attempt=attempt)
        if locked.state in PayoutAttempt.OPEN_STATES:
            return withdrawal_payout_failed(attempt=attempt, actor=actor, reason=reason)
        if withdrawal.state == W.RETURNED:
            return withdrawal, False
        if locked.state != PayoutAttempt.State.PAID:
            raise IllegalStateTransition(
                entity="payout_attempt", from_state=locked.state, to_state="returned"
            )
        before = _withdrawal_move(withdrawal, W.RETURNED)
        posted = withdrawal.hold.resolve_transaction
        lines = [
            PostingLine(entry.account, -entry.amount_minor)
            for entry in posted.entries.select_related("account")
        ]
        available, _ = player_accounts_get_or_create(
            player=withdrawal.player, currency=withdrawal.currency
        )
        # The posting moved held → in flight; the return moves in flight → available.
        lines = [
            PostingLine(
                available if line.amount_minor > 0 else line.account, line.amount_minor
            )
            for line in lines
        ]
        transaction_post(
            tenant_id=withdrawal.tenant_id,
            kind=JournalTransaction.Kind.REVERSAL,
            lines=lines,
            idempotency_key=f"withdrawal:{withdrawal.pk}:returned",
            actor=actor,
            reference=f"withdrawal:{withdrawal.pk}",
            description=reason.strip() or "payout returned",
            reverses_id=posted.pk,
        )
        withdrawal.save(update_fields=["state", "updated_at"])
        audit_record(
            actor=actor,
            action="withdrawal.payout_returned",
            tenant_id=withdrawal.tenant_id,
            target=withdrawal,
            before={"state": before},
            after={"state": withdrawal.state, "attempt": locked.number},
            reason=reason.strip(),
        )
    return withdrawal, True


# --- closed-loop refund legs (issue 13; payments/withdrawals/closed_loop.py) ------------
#
# An approved withdrawal whose plan sends part of it back to deposit methods: the
# hold covering the whole amount is split, in one transaction, into one hold per
# refund leg and a bank hold for the rest (the withdrawal's hold from then on, the one
# its payout posts). The money stays held — never available, so never withdrawable
# twice — until each refund is final: then its hold is voided, and on success the
# refund's claw-back (available → PSP clearing) takes it in the same transaction; on
# failure it stays with the player. The withdrawal is paid when the bank leg is paid
# (or there is none) and no leg is pending.


def refund_leg_key(*, withdrawal_id: int, deposit_id: int) -> str:
    """The key of a refund leg: its hold's idempotency key and reference, and the
    refund's request key."""
    return f"withdrawal:{withdrawal_id}:refund-leg:{deposit_id}"


def withdrawal_hold_split(
    *, withdrawal: Withdrawal, legs: Sequence[tuple[int, int]], actor: Actor
) -> dict[int, Hold]:
    """approved, its hold covering the whole amount → one pending hold per refund
    leg ``(deposit_id, amount_minor)`` and a new bank hold for the remainder (none
    when the legs cover everything), the original hold voided in the same
    transaction. Returns the leg holds by deposit id; a repeat returns the existing
    ones and moves nothing. Locks the withdrawal row, then the holds."""
    with transaction.atomic(savepoint=False):
        locked = _withdrawal_lock(withdrawal)
        existing = list(locked.refund_leg_holds.order_by("pk"))
        if existing:
            return {int(h.reference.rsplit(":", 1)[1]): h for h in existing}
        if (
            locked.state != W.APPROVED
            or locked.hold is None
            or locked.hold.state != Hold.State.PENDING
            or locked.hold.amount_minor != locked.amount_minor
        ):
            raise IllegalStateTransition(
                entity="withdrawal", from_state=locked.state, to_state="refund_legs"
            )
        refund_total = sum(amount for _, amount in legs)
        deposit_ids = [deposit_id for deposit_id, _ in legs]
        if (
            not legs
            or any(amount <= 0 for _, amount in legs)
            or len(set(deposit_ids)) != len(deposit_ids)
            or refund_total > locked.amount_minor
        ):
            raise ValidationFailed(
                "Refund legs are positive, one per deposit, within the withdrawal.",
                details={"withdrawal_id": locked.pk, "legs": [list(x) for x in legs]},
            )
        player = locked.player
        hold_void(hold=locked.hold, actor=actor)
        holds: dict[int, Hold] = {}
        for deposit_id, amount in legs:
            key = refund_leg_key(withdrawal_id=locked.pk, deposit_id=deposit_id)
            hold = hold_place(
                player=player,
                currency=locked.currency,
                amount_minor=amount,
                idempotency_key=key,
                actor=actor,
                reference=key,
            )
            hold.refund_leg_of = locked
            hold.save(update_fields=["refund_leg_of"])
            holds[deposit_id] = hold
        bank_minor = locked.amount_minor - refund_total
        if bank_minor:
            locked.hold = hold_place(
                player=player,
                currency=locked.currency,
                amount_minor=bank_minor,
                idempotency_key=f"withdrawal:{locked.pk}:bank-leg",
                actor=actor,
                reference=f"withdrawal:{locked.pk}",
            )
            locked.save(update_fields=["hold", "updated_at"])
        audit_record(
            actor=actor,
            action="withdrawal.closed_loop_split",
            tenant_id=locked.tenant_id,
            target=locked,
            after={
                "refund_legs": {str(d): a for d, a in legs},
                "bank_minor": bank_minor,
                "currency": locked.currency,
            },
        )
    return holds


def withdrawal_refund_leg_settle(
    *, hold: Hold, actor: Actor, refunded: bool, any_leg_refunded: bool
) -> Withdrawal:
    """A refund leg is final: its hold is voided back to available (on success the
    caller's refund claw-back takes it from there in the same transaction). When no
    leg is left pending, the withdrawal is finished: paid if its bank leg is paid,
    or, without a bank leg, paid if any leg was refunded (``any_leg_refunded``) and
    rejected if none was (everything is back in the balance). Locks the withdrawal
    row, then the hold; a repeat is a no-op."""
    with transaction.atomic(savepoint=False):
        withdrawal = Withdrawal.objects.select_for_update(no_key=True).get(
            pk=hold.refund_leg_of_id
        )
        locked_hold = Hold.objects.select_for_update(no_key=True).get(pk=hold.pk)
        if locked_hold.state != Hold.State.PENDING:
            return withdrawal
        hold_void(hold=locked_hold, actor=actor)
        audit_record(
            actor=actor,
            action="withdrawal.refund_leg_refunded"
            if refunded
            else "withdrawal.refund_leg_failed",
            tenant_id=withdrawal.tenant_id,
            target=withdrawal,
            after={
                "leg": locked_hold.reference,
                "amount_minor": locked_hold.amount_minor,
                "currency": locked_hold.currency,
                "back_to_player": not refunded,
            },
        )
        if withdrawal.refund_leg_holds.filter(state=Hold.State.PENDING).exists():
            return withdrawal
        bank = withdrawal.hold
        before = withdrawal.state
        if before == W.PAYOUT_PENDING and bank.state == Hold.State.POSTED:
            withdrawal.state = W.PAID  # the bank leg was paid before the last leg
        elif before == W.APPROVED and bank.state == Hold.State.VOIDED:
            # No bank leg: the original hold was voided by the split.
            withdrawal.state = W.PAID if any_leg_refunded else W.REJECTED
            if withdrawal.state == W.REJECTED:
                withdrawal.rejection_reason = (
                    "Every refund to the deposit methods failed; the amount is back "
                    "in the balance."
                )
        else:
            return withdrawal  # the bank leg is still open (or failed, or rejected)
        withdrawal.save(update_fields=["state", "rejection_reason", "updated_at"])
        audit_record(
            actor=actor,
            action=f"withdrawal.{withdrawal.state}",
            tenant_id=withdrawal.tenant_id,
            target=withdrawal,
            before={"state": before},
            after={"state": withdrawal.state, "closed_loop": True},
        )
    return withdrawal
