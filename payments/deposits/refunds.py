"""Refunds of completed deposits, asked for by an operator (or reported by the PSP
when made in its own back office).

A refund moves no money when it is asked for: it is ``pending`` until the PSP
confirms it by webhook, and only then does the wallet post the claw-back
(``wallet.services.deposit_refund_record``). Never more than was captured: the sum of
succeeded and pending refunds plus any chargeback stays within the deposit.
"""

from __future__ import annotations

import logging

from django.db import transaction
from django.db.models import Sum

from audit.services import audit_record
from common.actors import Actor
from common.currency import format_money
from common.errors import IdempotencyKeyReuseConflict
from common.queue import task_enqueue_on_commit
from payments.exceptions import (
    ProviderError,
    ProviderUnavailable,
    RefundExceedsRefundable,
    RefundNotAllowed,
)
from payments.models import PSPConfig, Refund
from payments.providers.base import RefundRequest
from payments.providers.registry import provider_build
from wallet import services as wallet
from wallet.models import Deposit, JournalTransaction

logger = logging.getLogger(__name__)

State = Refund.State


def _deposit_locked(*, deposit_id: int, tenant_id: int) -> Deposit:
    """The deposit row, then its player's row: the lock order of the wallet
    (deposit, player, the player's accounts). A refund leg's settlement posts on
    the player's accounts before ``deposit_refund_record`` locks the player; taking
    the player here first is what keeps that from deadlocking with a deposit being
    credited to the same player (found by ``make loadtest``)."""
    return (
        Deposit.objects.select_for_update(no_key=True)
        .select_related("player")
        .get(pk=deposit_id, tenant_id=tenant_id)
    )


def refundable_minor(*, deposit: Deposit) -> int:
    """What can still be refunded. Read it under the deposit's row lock to act on it."""
    pending = (
        Refund.objects.filter(deposit=deposit, state=State.PENDING).aggregate(
            total=Sum("amount_minor")
        )["total"]
        or 0
    )
    return (
        deposit.amount_minor
        - deposit.refunded_minor
        - deposit.charged_back_minor
        - pending
    )


def refund_request(
    *,
    deposit_id: int,
    tenant_id: int,
    amount_minor: int,
    reason: str,
    actor: Actor,
    request_key: str,
    hold_id: int | None = None,
) -> Refund:
    """Ask the PSP to refund ``amount_minor`` of a completed deposit (partial or full).
    Joins the caller's transaction; takes the deposit row lock so two operators cannot
    together refund more than was captured; the PSP is called after commit.

    ``request_key`` is the operator's idempotency key (the admin form carries one):
    a repeat returns the first refund and sends nothing; the same key for another
    deposit or amount raises ``IdempotencyKeyReuseConflict``.

    ``hold_id`` makes the refund a closed-loop leg of a withdrawal: paid from the
    money held in that hold (``wallet.services.withdrawal_hold_split``), which the
    refund's outcome settles (``withdrawal_refund_leg_settle``)."""
    with transaction.atomic(savepoint=False):
        deposit = _deposit_locked(deposit_id=deposit_id, tenant_id=tenant_id)
        first = Refund.objects.filter(
            tenant_id=tenant_id, request_key=request_key
        ).first()
        if first is not None:
            if (first.deposit_id, first.amount_minor) != (deposit.pk, amount_minor):
                raise IdempotencyKeyReuseConflict(
                    details={"idempotency_key": request_key, "refund_id": first.pk}
                )
            return first
        if deposit.state != Deposit.State.COMPLETED or not deposit.payment_reference:
            raise RefundNotAllowed(
                details={"deposit_id": deposit.pk, "state": deposit.state}
            )
        left = refundable_minor(deposit=deposit)
        if not 0 < amount_minor <= left:
            raise RefundExceedsRefundable(
                details={
                    "deposit_id": deposit.pk,
                    "requested_minor": amount_minor,
                    "refundable_minor": left,
                    "currency": deposit.currency,
                }
            )
        refund = Refund.objects.create(
            tenant_id=tenant_id,
            deposit=deposit,
            provider=deposit.provider,
            amount_minor=amount_minor,
            currency=deposit.currency,
            reason=reason[:255],
            requested_by=str(actor),
            request_key=request_key,
            hold_id=hold_id,
        )
        audit_record(
            actor=actor,
            action="refund.requested",
            tenant_id=tenant_id,
            target=refund,
            after={
                "deposit_id": deposit.pk,
                "amount_minor": amount_minor,
                "currency": deposit.currency,
                "reason": reason,
            },
        )
        # On a worker (payments.tasks); the sweep re-drives a refund left pending.
        task_enqueue_on_commit("payments.refund_dispatch", refund_id=refund.pk)
    return refund


def refund_dispatch(*, refund_id: int) -> None:
    """Send a pending refund to its PSP (after commit, no lock held). A refusal fails
    the refund; no answer leaves it pending (the PSP's webhook or a later dispatch
    settles it: the idempotency key makes a second send harmless)."""
    refund = Refund.objects.select_related("deposit").get(pk=refund_id)
    if refund.state != State.PENDING or refund.provider_reference:
        return
    config = PSPConfig.objects.get(tenant_id=refund.tenant_id, provider=refund.provider)
    request = RefundRequest(
        deposit_id=refund.deposit_id,
        refund_id=refund.pk,
        provider_reference=refund.deposit.payment_reference,
        amount_minor=refund.amount_minor,
        currency=refund.currency,
        idempotency_key=refund.idempotency_key,
    )
    try:
        result = provider_build(name=refund.provider, config=config).refund(request)
    except ProviderUnavailable:
        logger.warning("refund.outcome_unknown", extra={"refund_id": refund.pk})
        return
    except ProviderError as exc:
        with transaction.atomic(durable=True):
            refund_failed(
                refund_id=refund.pk,
                tenant_id=refund.tenant_id,
                reason=f"{exc.code}: {exc.details.get('psp_message') or exc.message}",
                actor=Actor.psp(refund.provider),
            )
        return
    with transaction.atomic(durable=True):
        refund_provider_reference_set(
            refund_id=refund.pk, provider_reference=result.provider_reference
        )


def refund_provider_reference_set(*, refund_id: int, provider_reference: str) -> None:
    """The PSP took the refund: record its reference, after which the sweep no
    longer sends it (its outcome arrives by webhook). Until this commits the refund
    is sent again with the same idempotency key, and the PSP answers with the
    refund it already made (never a second one)."""
    Refund.objects.filter(pk=refund_id, provider_reference="").update(
        provider_reference=provider_reference
    )


def refund_succeeded(
    *,
    deposit_id: int,
    tenant_id: int,
    refund_id: int | None,
    provider_reference: str,
    amount_minor: int | None,
    currency: str,
    actor: Actor,
) -> Refund:
    """The PSP confirmed a refund: book it once. A refund we did not ask for (made in
    the PSP's back office) is recorded as it is reported. Takes the deposit row lock,
    then the refund row."""
    with transaction.atomic(savepoint=False):
        deposit = _deposit_locked(deposit_id=deposit_id, tenant_id=tenant_id)
        refund = _refund_locked(
            deposit=deposit, refund_id=refund_id, provider_reference=provider_reference
        )
        if refund is None:
            refund = Refund.objects.create(
                tenant_id=tenant_id,
                deposit=deposit,
                provider=deposit.provider,
                amount_minor=max(amount_minor or 0, 1),
                currency=currency,
                reason="reported by the PSP",
                provider_reference=provider_reference,
                requested_by=str(actor),
            )
        if refund.state != State.PENDING:
            return refund
        if amount_minor != refund.amount_minor or currency != refund.currency:
            wallet.deposit_flag_review(
                deposit_id=deposit.pk,
                tenant_id=tenant_id,
                reason=f"refund #{refund.pk} confirmed as "
                f"{format_money(amount_minor, currency)}, asked "
                f"{format_money(refund.amount_minor, refund.currency)}: not booked",
                actor=actor,
            )
            return refund
        if refund.hold_id is not None:
            # A closed-loop leg: the money is in the leg's hold; voided first, so the
            # claw-back below takes it from the player's available balance at once.
            _refund_leg_settle(refund=refund, refunded=True, actor=actor)
        total = deposit.refunded_minor + refund.amount_minor
        wallet.deposit_refund_record(
            deposit_id=deposit.pk,
            tenant_id=tenant_id,
            refunded_total_minor=total,
            currency=currency,
            actor=actor,
        )
        posting = JournalTransaction.objects.filter(
            tenant_id=tenant_id, idempotency_key=f"deposit:{deposit.pk}:refund:{total}"
        ).first()
        refund.state = State.SUCCEEDED
        refund.provider_reference = refund.provider_reference or provider_reference
        refund.ledger_transaction_id = posting.pk if posting else None
        refund.save()
        audit_record(
            actor=actor,
            action="refund.succeeded",
            tenant_id=tenant_id,
            target=refund,
            after={"amount_minor": refund.amount_minor, "total_minor": total},
        )
    return refund


def refund_failed(
    *,
    refund_id: int | None,
    tenant_id: int,
    reason: str,
    actor: Actor,
    deposit_id: int | None = None,
    provider_reference: str = "",
) -> Refund | None:
    """The PSP did not refund (``REFUND`` with success false, ``REFUND_FAILED``) or
    undid a refund (``REFUNDED_REVERSED``). A pending refund fails and nothing was
    booked; a succeeded one is reversed in the ledger (the player gets it back)."""
    with transaction.atomic(savepoint=False):
        if deposit_id is None:
            deposit_id = Refund.objects.get(
                pk=refund_id, tenant_id=tenant_id
            ).deposit_id
        deposit = _deposit_locked(deposit_id=deposit_id, tenant_id=tenant_id)
        refund = _refund_locked(
            deposit=deposit, refund_id=refund_id, provider_reference=provider_reference
        )
        if refund is None or refund.state in (State.FAILED, State.REVERSED):
            return refund
        before = refund.state
        if refund.state == State.SUCCEEDED and refund.ledger_transaction_id:
            wallet.deposit_refund_reverse(
                deposit_id=deposit.pk,
                tenant_id=tenant_id,
                transaction_id=refund.ledger_transaction_id,
                actor=actor,
                reason=f"refund #{refund.pk} reversed by the PSP: {reason}",
            )
            refund.state = State.REVERSED
        else:
            refund.state = State.FAILED
            if refund.hold_id is not None:
                # A closed-loop leg that did not happen: its part of the withdrawal
                # goes back to the player's available balance, once.
                _refund_leg_settle(refund=refund, refunded=False, actor=actor)
        refund.failure_reason = reason[:255]
        refund.save(update_fields=["state", "failure_reason", "updated_at"])
        audit_record(
            actor=actor,
            action=f"refund.{refund.state}",
            tenant_id=tenant_id,
            target=refund,
            before={"state": before},
            after={"state": refund.state},
            reason=reason,
        )
    return refund


def refund_total_reported(
    *,
    deposit_id: int,
    tenant_id: int,
    refunded_total_minor: int,
    currency: str,
    actor: Actor,
) -> list[Refund]:
    """The PSP says how much of the deposit is refunded in total, without naming the
    refunds (Stripe's ``charge.refunded``). What is new since the last booking is
    settled against the pending refunds, oldest first, whose amounts make it up;
    what no pending refund explains was refunded at the PSP itself and is recorded
    as such. Each refund is booked once, through ``refund_succeeded``. Takes the
    deposit row lock."""
    with transaction.atomic(savepoint=False):
        deposit = _deposit_locked(deposit_id=deposit_id, tenant_id=tenant_id)
        new_minor = refunded_total_minor - deposit.refunded_minor
        if new_minor <= 0 or currency != deposit.currency:
            return []
        settled: list[Refund] = []
        left = new_minor
        pending = Refund.objects.select_for_update(no_key=True).filter(
            deposit=deposit, state=State.PENDING
        )
        for refund in pending.order_by("id"):
            if refund.amount_minor > left:
                continue
            settled.append(
                refund_succeeded(
                    deposit_id=deposit.pk,
                    tenant_id=tenant_id,
                    refund_id=refund.pk,
                    provider_reference=refund.provider_reference,
                    amount_minor=refund.amount_minor,
                    currency=currency,
                    actor=actor,
                )
            )
            left -= refund.amount_minor
            if left == 0:
                break
        if left > 0:
            settled.append(
                refund_succeeded(
                    deposit_id=deposit.pk,
                    tenant_id=tenant_id,
                    refund_id=None,
                    provider_reference="",
                    amount_minor=left,
                    currency=currency,
                    actor=actor,
                )
            )
    return settled


def _refund_locked(
    *, deposit: Deposit, refund_id: int | None, provider_reference: str
) -> Refund | None:
    refunds = Refund.objects.select_for_update(no_key=True).filter(deposit=deposit)
    found = refunds.filter(pk=refund_id).first() if refund_id else None
    if found is None and provider_reference:
        found = refunds.filter(provider_reference=provider_reference).first()
    return found


def _refund_leg_settle(*, refund: Refund, refunded: bool, actor: Actor) -> None:
    """Settle the withdrawal leg a final refund pays (the caller holds the deposit
    and refund locks; the wallet service then locks the withdrawal and the hold)."""
    others_refunded = (
        Refund.objects.filter(
            hold__refund_leg_of_id=refund.hold.refund_leg_of_id,
            state=State.SUCCEEDED,
        )
        .exclude(pk=refund.pk)
        .exists()
    )
    wallet.withdrawal_refund_leg_settle(
        hold=refund.hold,
        actor=actor,
        refunded=refunded,
        any_leg_refunded=refunded or others_refunded,
    )
