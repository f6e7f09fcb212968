"""The deposit state machine: created by the payments app, credited only from a
verified PSP event, refunded and charged back through the ledger."""

from __future__ import annotations

import logging

from django.db import IntegrityError, transaction
from django.db.models import Sum
from django.utils import timezone

from audit.services import audit_record
from casino.models import Player
from common import clock
from common.actors import Actor
from common.currency import exponent_of, format_money
from common.errors import (
    IdempotencyKeyReuseConflict,
    ValidationFailed,
)
from common.idempotency import request_fingerprint
from wallet.compliance.risk import aml_after_deposit
from wallet.models import (
    Account,
    Deposit,
    JournalTransaction,
)
from wallet.services.ledger import (
    PostingLine,
    PostingResult,
    player_accounts_get_or_create,
    player_credit,
    system_account_get_or_create,
    transaction_post,
    transaction_reverse,
)
from wallet.services.policies import deposit_policy_check

logger = logging.getLogger(__name__)

Kind = JournalTransaction.Kind


# --- deposits ------------------------------------------------------------------------
#
# The deposit state machine. Callers (the payments app) own the transaction; every
# function here that changes a deposit locks its row first, so two deliveries of one
# PSP event serialise on it, and the ledger's idempotency keys (derived from the
# deposit) make a second credit impossible even if they did not.

DepositState = Deposit.State

_DEPOSIT_FINGERPRINT_FIELDS = ("provider", "currency", "amount_minor")


def _deposit_locked(*, deposit_id: int, tenant_id: int) -> Deposit:
    return (
        Deposit.objects.select_for_update(no_key=True)
        .select_related("player")
        .get(pk=deposit_id, tenant_id=tenant_id)
    )


def _deposit_audit(
    *, actor: Actor, deposit: Deposit, action: str, before: str, reason: str = ""
) -> None:
    audit_record(
        actor=actor,
        action=action,
        tenant_id=deposit.tenant_id,
        target=deposit,
        before={"state": before},
        after={
            "state": deposit.state,
            "refunded_minor": deposit.refunded_minor,
            "charged_back_minor": deposit.charged_back_minor,
            "needs_review": deposit.needs_review,
        },
        reason=reason,
    )


def _flag(deposit: Deposit, reason: str) -> None:
    deposit.needs_review = True
    deposit.review_reason = "\n".join(
        line for line in (deposit.review_reason, reason) if line
    )


def _deposit_flag_saved(
    *, deposit: Deposit, reason: str, actor: Actor, action: str, before: str
) -> None:
    """Flag a locked deposit for an operator, save just that, and audit it."""
    _flag(deposit, reason)
    deposit.save(update_fields=["needs_review", "review_reason", "updated_at"])
    _deposit_audit(
        actor=actor, deposit=deposit, action=action, before=before, reason=reason
    )


def _deposits_open_today_minor(*, player: Player, currency: str) -> int:
    """Deposits started today and not yet credited or closed: they count against the
    daily limit until they complete (then as ledger entries) or end unpaid."""
    return (
        Deposit.objects.filter(
            tenant_id=player.tenant_id,
            player=player,
            currency=currency,
            state__in=[Deposit.State.CREATED, Deposit.State.PENDING_PROVIDER],
            created_at__gte=clock.start_of_day(),
        ).aggregate(total=Sum("amount_minor"))["total"]
        or 0
    )


def deposit_replay_get(
    *, player: Player, idempotency_key: str, amount_minor: int, currency: str
) -> Deposit | None:
    """The deposit an earlier request with this key started, or ``None``. The same
    key with a different amount or currency raises ``IdempotencyKeyReuseConflict``.
    Checked before any policy: a replay returns the first result whatever changed
    since (kill switch, route, configuration)."""
    found = Deposit.objects.filter(
        tenant_id=player.tenant_id, player=player, idempotency_key=idempotency_key
    ).first()
    if found is None:
        return None
    request_hash = request_fingerprint(
        {"provider": found.provider, "currency": currency, "amount_minor": amount_minor}
    )
    if found.request_hash != request_hash:
        raise IdempotencyKeyReuseConflict(
            details={"idempotency_key": idempotency_key, "deposit_id": found.pk}
        )
    return found


def deposit_create(
    *,
    player: Player,
    provider: str,
    amount_minor: int,
    currency: str,
    idempotency_key: str,
    actor: Actor,
) -> tuple[Deposit, bool]:
    """A new deposit in state ``created``, once per (player, ``idempotency_key``).

    Returns ``(deposit, created)``: a replay with the same amount, currency and
    provider returns the first deposit; the same key with a different request raises
    ``IdempotencyKeyReuseConflict``."""
    exponent_of(currency)
    if type(amount_minor) is not int or amount_minor <= 0:
        raise ValidationFailed(
            "Deposit amounts are positive.", details={"amount_minor": amount_minor}
        )
    request_hash = request_fingerprint(
        {"provider": provider, "currency": currency, "amount_minor": amount_minor}
    )

    def existing() -> Deposit | None:
        found = Deposit.objects.filter(
            tenant_id=player.tenant_id, player=player, idempotency_key=idempotency_key
        ).first()
        if found is not None and found.request_hash != request_hash:
            raise IdempotencyKeyReuseConflict(
                details={"idempotency_key": idempotency_key, "deposit_id": found.pk}
            )
        return found

    with transaction.atomic(savepoint=False):
        found = existing()
        if found is not None:
            return found, False
        # The player row lock serialises deposit starts per player, so the daily
        # limit counts every deposit started before this one.
        locked = Player.objects.select_for_update(no_key=True).get(pk=player.pk)
        deposit_policy_check(
            player=locked,
            currency=currency,
            amount_minor=amount_minor,
            pending_minor=_deposits_open_today_minor(player=locked, currency=currency),
        )
        try:
            with transaction.atomic():
                deposit = Deposit.objects.create(
                    tenant_id=player.tenant_id,
                    player=player,
                    provider=provider,
                    currency=currency,
                    amount_minor=amount_minor,
                    idempotency_key=idempotency_key,
                    request_hash=request_hash,
                )
        except IntegrityError:  # a concurrent request with the same key won
            found = existing()
            if found is None:
                raise
            return found, False
        audit_record(
            actor=actor,
            action="deposit.created",
            tenant_id=deposit.tenant_id,
            target=deposit,
            after={
                "provider": provider,
                "currency": currency,
                "amount_minor": amount_minor,
            },
        )
    return deposit, True


def deposit_checkout_attach(
    *,
    deposit_id: int,
    tenant_id: int,
    provider_reference: str,
    checkout_url: str,
    actor: Actor,
) -> Deposit:
    """``created → pending_provider`` once the PSP has a checkout for it. Takes the
    deposit row lock. Later states are left alone (a webhook may have been faster)."""
    with transaction.atomic(savepoint=False):
        deposit = _deposit_locked(deposit_id=deposit_id, tenant_id=tenant_id)
        if deposit.state != DepositState.CREATED:
            return deposit
        before = deposit.state
        deposit.state = DepositState.PENDING_PROVIDER
        deposit.provider_reference = provider_reference
        deposit.checkout_url = checkout_url
        deposit.save(
            update_fields=["state", "provider_reference", "checkout_url", "updated_at"]
        )
        _deposit_audit(
            actor=actor,
            deposit=deposit,
            action="deposit.pending_provider",
            before=before,
        )
    return deposit


def deposit_fail(
    *, deposit_id: int, tenant_id: int, reason: str, actor: Actor
) -> Deposit:
    """``created | pending_provider → failed``. A final deposit does not regress."""
    with transaction.atomic(savepoint=False):
        deposit = _deposit_locked(deposit_id=deposit_id, tenant_id=tenant_id)
        if deposit.is_final:
            return deposit
        before = deposit.state
        deposit.state = DepositState.FAILED
        deposit.failure_reason = reason[:255]
        deposit.save(update_fields=["state", "failure_reason", "updated_at"])
        _deposit_audit(
            actor=actor,
            deposit=deposit,
            action="deposit.failed",
            before=before,
            reason=reason,
        )
    return deposit


def deposit_expire(*, deposit_id: int, tenant_id: int, actor: Actor) -> Deposit:
    """``created | pending_provider → expired``. A final deposit does not regress."""
    with transaction.atomic(savepoint=False):
        deposit = _deposit_locked(deposit_id=deposit_id, tenant_id=tenant_id)
        if deposit.is_final:
            return deposit
        before = deposit.state
        deposit.state = DepositState.EXPIRED
        deposit.save(update_fields=["state", "updated_at"])
        _deposit_audit(
            actor=actor, deposit=deposit, action="deposit.expired", before=before
        )
    return deposit


def deposit_flag_review(
    *, deposit_id: int, tenant_id: int, reason: str, actor: Actor
) -> Deposit:
    with transaction.atomic(savepoint=False):
        deposit = _deposit_locked(deposit_id=deposit_id, tenant_id=tenant_id)
        before = deposit.state
        _deposit_flag_saved(
            deposit=deposit,
            reason=reason,
            actor=actor,
            action="deposit.flagged",
            before=before,
        )
    return deposit


def deposit_complete(
    *,
    deposit_id: int,
    tenant_id: int,
    amount_minor: int,
    currency: str,
    payment_reference: str,
    actor: Actor,
) -> Deposit:
    """The PSP confirmed the payment: credit PSP clearing → player cash, exactly once
    (ledger key ``deposit:<id>:credit``), and mark the deposit completed.

    Takes the deposit row lock. An amount or currency that differs from the deposit
    credits nothing and flags the deposit for review. A deposit that had expired or
    failed is still credited (the player paid) and flagged. A completed deposit is a
    no-op."""
    with transaction.atomic(savepoint=False):
        deposit = _deposit_locked(deposit_id=deposit_id, tenant_id=tenant_id)
        if deposit.state == DepositState.COMPLETED:
            return deposit
        before = deposit.state
        if amount_minor != deposit.amount_minor or currency != deposit.currency:
            reason = (
                f"PSP confirmed {format_money(amount_minor, currency)} but the "
                f"deposit is {format_money(deposit.amount_minor, deposit.currency)}: "
                "not credited"
            )
            _deposit_flag_saved(
                deposit=deposit,
                reason=reason,
                actor=actor,
                action="deposit.amount_mismatch",
                before=before,
            )
            return deposit
        result = player_credit(
            player=deposit.player,
            currency=deposit.currency,
            amount_minor=deposit.amount_minor,
            source_kind=Account.Kind.PSP_CLEARING,
            kind=Kind.DEPOSIT,
            idempotency_key=f"deposit:{deposit.pk}:credit",
            actor=actor,
            provider=deposit.provider,
            reference=f"deposit:{deposit.pk}",
            description=f"Deposit via {deposit.provider}",
        )
        if before in (DepositState.EXPIRED, DepositState.FAILED):
            _flag(deposit, f"payment completed after the deposit was {before}")
        deposit.state = DepositState.COMPLETED
        deposit.credit_transaction_id = result.transaction_id
        deposit.payment_reference = payment_reference or deposit.payment_reference
        deposit.completed_at = timezone.now()
        deposit.save()
        _deposit_audit(
            actor=actor, deposit=deposit, action="deposit.completed", before=before
        )
        aml_after_deposit(player=deposit.player, currency=deposit.currency)
    return deposit


def _deposit_claw_back(
    *, deposit: Deposit, amount_minor: int, kind: str, idempotency_key: str, actor
) -> PostingResult:
    """Money the PSP takes back: PSP clearing is restored in full; the player's
    available cash pays what it covers and the rest is booked on the chargeback
    receivable account (what the player owes), so the player never goes negative.
    Locks the player's available account before reading its balance."""
    available, _ = player_accounts_get_or_create(
        player=deposit.player, currency=deposit.currency
    )
    available = Account.objects.select_for_update(no_key=True).get(pk=available.pk)
    covered = min(amount_minor, available.balance_minor)
    owed = amount_minor - covered
    clearing = system_account_get_or_create(
        tenant_id=deposit.tenant_id,
        kind=Account.Kind.PSP_CLEARING,
        currency=deposit.currency,
        provider=deposit.provider,
    )
    lines = [PostingLine(clearing, amount_minor)]
    if covered:
        lines.append(PostingLine(available, -covered))
    if owed:
        receivable = system_account_get_or_create(
            tenant_id=deposit.tenant_id,
            kind=Account.Kind.CHARGEBACK_RECEIVABLE,
            currency=deposit.currency,
            provider=deposit.provider,
        )
        lines.append(PostingLine(receivable, -owed))
    return transaction_post(
        tenant_id=deposit.tenant_id,
        kind=kind,
        lines=lines,
        idempotency_key=idempotency_key,
        actor=actor,
        reference=f"deposit:{deposit.pk}",
        metadata={"covered_by_player_minor": covered, "receivable_minor": owed},
    )


def deposit_refund_record(
    *,
    deposit_id: int,
    tenant_id: int,
    refunded_total_minor: int,
    currency: str,
    actor: Actor,
) -> Deposit:
    """The PSP refunded ``refunded_total_minor`` of this deposit so far (cumulative, as
    PSPs report it). Posts the part not yet booked (key ``deposit:<id>:refund:<total>``),
    so repeats and stale events move nothing. Takes the deposit row lock."""
    with transaction.atomic(savepoint=False):
        deposit = _deposit_locked(deposit_id=deposit_id, tenant_id=tenant_id)
        before = deposit.state
        if deposit.state != DepositState.COMPLETED or currency != deposit.currency:
            reason = (
                f"refund of {format_money(refunded_total_minor, currency)} for a deposit that is "
                f"{deposit.state} in {deposit.currency}: nothing booked"
            )
            _deposit_flag_saved(
                deposit=deposit,
                reason=reason,
                actor=actor,
                action="deposit.refund_unmatched",
                before=before,
            )
            return deposit
        total = min(refunded_total_minor, deposit.amount_minor)
        if total != refunded_total_minor:
            _flag(deposit, f"refund total {refunded_total_minor} exceeds the deposit")
        delta = total - deposit.refunded_minor
        if delta <= 0:
            if deposit.needs_review:
                deposit.save(
                    update_fields=["needs_review", "review_reason", "updated_at"]
                )
            return deposit
        _deposit_claw_back(
            deposit=deposit,
            amount_minor=delta,
            kind=Kind.REFUND,
            idempotency_key=f"deposit:{deposit.pk}:refund:{total}",
            actor=actor,
        )
        deposit.refunded_minor = total
        deposit.save()
        _deposit_audit(
            actor=actor, deposit=deposit, action="deposit.refunded", before=before
        )
    return deposit


def deposit_chargeback_record(
    *,
    deposit_id: int,
    tenant_id: int,
    amount_minor: int,
    currency: str,
    actor: Actor,
) -> Deposit:
    """A dispute took ``amount_minor`` back (once per deposit: key
    ``deposit:<id>:chargeback``). Debits what the player's available cash covers, books
    the rest as chargeback receivable, and freezes the player's withdrawals. Locks
    the deposit row, then the player row, then the player's accounts."""
    with transaction.atomic(savepoint=False):
        deposit = _deposit_locked(deposit_id=deposit_id, tenant_id=tenant_id)
        before = deposit.state
        if deposit.charged_back_minor:
            return deposit
        if (
            deposit.state != DepositState.COMPLETED
            or currency != deposit.currency
            or not 0 < amount_minor <= deposit.amount_minor
        ):
            reason = (
                f"dispute of {format_money(amount_minor, currency)} for a deposit "
                f"that is {deposit.state} "
                f"({format_money(deposit.amount_minor, deposit.currency)}): "
                "nothing booked"
            )
            _deposit_flag_saved(
                deposit=deposit,
                reason=reason,
                actor=actor,
                action="deposit.dispute_unmatched",
                before=before,
            )
            return deposit
        # Player row before its accounts, the order withdrawals use too.
        player = Player.objects.select_for_update(no_key=True).get(pk=deposit.player_id)
        _deposit_claw_back(
            deposit=deposit,
            amount_minor=amount_minor,
            kind=Kind.CHARGEBACK,
            idempotency_key=f"deposit:{deposit.pk}:chargeback",
            actor=actor,
        )
        deposit.charged_back_minor = amount_minor
        _flag(deposit, f"chargeback of {format_money(amount_minor, currency)}")
        deposit.save()
        player_withdrawals_freeze(
            player_id=player.pk,
            tenant_id=player.tenant_id,
            actor=actor,
            reason=f"chargeback on deposit {deposit.pk}",
        )
        _deposit_audit(
            actor=actor, deposit=deposit, action="deposit.charged_back", before=before
        )
    return deposit


# --- PSP reversals of refunds and chargebacks (Adyen: REFUNDED_REVERSED, REFUND_FAILED
# after success, CHARGEBACK_REVERSED) ----------------------------------------------------


def player_withdrawals_freeze(
    *, player_id: int, tenant_id: int, actor: Actor, reason: str
) -> Player:
    """Stop a player's withdrawals until an operator lifts it (a dispute is open).
    Takes the player row lock; a repeat changes nothing."""
    with transaction.atomic(savepoint=False):
        player = Player.objects.select_for_update(no_key=True).get(
            pk=player_id, tenant_id=tenant_id
        )
        if not player.withdrawals_frozen:
            player.withdrawals_frozen = True
            player.save(update_fields=["withdrawals_frozen"])
            audit_record(
                actor=actor,
                action="player.withdrawals_frozen",
                tenant_id=player.tenant_id,
                target=player,
                before={"withdrawals_frozen": False},
                after={"withdrawals_frozen": True},
                reason=reason,
            )
    return player


def deposit_chargeback_reverse(
    *, deposit_id: int, tenant_id: int, actor: Actor, reason: str
) -> Deposit:
    """The PSP gave a charged-back deposit's money back (the dispute was won): post
    the mirror of the chargeback, which returns what the player had covered and
    clears the receivable. At most once (the ledger's reversal key). The deposit keeps
    ``charged_back_minor`` so a later stage cannot book a second chargeback silently;
    it stays flagged for an operator, and withdrawals stay frozen until one lifts it.
    Takes the deposit row lock."""
    with transaction.atomic(savepoint=False):
        deposit = _deposit_locked(deposit_id=deposit_id, tenant_id=tenant_id)
        chargeback = JournalTransaction.objects.filter(
            tenant_id=tenant_id, idempotency_key=f"deposit:{deposit.pk}:chargeback"
        ).first()
        if chargeback is None:
            _flag(deposit, f"{reason}, but no chargeback was booked")
            deposit.save(update_fields=["needs_review", "review_reason", "updated_at"])
            return deposit
        _deposit_posting_reverse(
            deposit=deposit,
            transaction_id=chargeback.pk,
            actor=actor,
            reason=reason,
            action="deposit.chargeback_reversed",
        )
    return deposit


def deposit_refund_reverse(
    *, deposit_id: int, tenant_id: int, transaction_id: int, actor: Actor, reason: str
) -> Deposit:
    """The PSP undid a refund it had confirmed: post the mirror of that refund's
    posting (the player gets back what the refund had taken). ``refunded_minor`` is
    left as it was (refund postings are keyed on the running total), which only makes
    the refundable amount smaller; the deposit is flagged for an operator. At most
    once. Takes the deposit row lock."""
    with transaction.atomic(savepoint=False):
        deposit = _deposit_locked(deposit_id=deposit_id, tenant_id=tenant_id)
        _deposit_posting_reverse(
            deposit=deposit,
            transaction_id=transaction_id,
            actor=actor,
            reason=reason,
            action="deposit.refund_reversed",
        )
    return deposit


def _deposit_posting_reverse(
    *, deposit: Deposit, transaction_id: int, actor: Actor, reason: str, action: str
) -> None:
    """Reverse one of a locked deposit's postings, flag the deposit for an operator
    and audit it."""
    transaction_reverse(
        transaction_id=transaction_id,
        tenant_id=deposit.tenant_id,
        actor=actor,
        reason=reason,
    )
    _deposit_flag_saved(
        deposit=deposit, reason=reason, actor=actor, action=action, before=deposit.state
    )
