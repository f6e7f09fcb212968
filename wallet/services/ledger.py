"""The double-entry ledger's writes. Every balance change in the project goes
through ``transaction_post``; the other services here are built on it."""

from __future__ import annotations

import hashlib
import json
import logging
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass

from django.conf import settings
from django.db import (
    DEFAULT_DB_ALIAS,
    DatabaseError,
    IntegrityError,
    connection,
    connections,
    transaction,
)
from django.db.models import F
from django.utils import timezone

from audit import context as audit_context
from audit.sealing import audit_seal_on_commit
from audit.services import audit_record
from casino.models import Player
from common.actors import Actor
from common.currency import exponent_of
from common.dberrors import translate_database_error
from common.errors import (
    IdempotencyKeyReuseConflict,
    IllegalStateTransition,
    ValidationFailed,
)
from common.prepared import prepared_fetchone
from wallet import sql
from wallet.exceptions import (
    InsufficientFunds,
    LedgerAccountMismatch,
    TransactionNotReversible,
    UnbalancedTransaction,
)
from wallet.models import (
    PLAYER_KINDS,
    Account,
    Entry,
    Hold,
    JournalTransaction,
)

logger = logging.getLogger(__name__)

Kind = JournalTransaction.Kind


@dataclass(frozen=True, slots=True)
class PostingLine:
    account: Account
    amount_minor: int


@dataclass(frozen=True, slots=True)
class PostingResult:
    transaction_id: int
    replayed: bool


# --- accounts --------------------------------------------------------------------------


def player_accounts_get_or_create(
    *, player: Player, currency: str
) -> tuple[Account, Account]:
    """The player's (available, held) accounts in ``currency``, created on first use."""
    exponent_of(currency)
    accounts = {
        a.kind: a
        for a in Account.objects.filter(
            player=player, currency=currency, kind__in=PLAYER_KINDS
        )
    }
    for kind in PLAYER_KINDS:
        if kind not in accounts:
            accounts[kind], _ = Account.objects.get_or_create(
                tenant_id=player.tenant_id, player=player, kind=kind, currency=currency
            )
    return accounts[Account.Kind.PLAYER_AVAILABLE], accounts[Account.Kind.PLAYER_HELD]


def system_account_get_or_create(
    *, tenant_id: int, kind: str, currency: str, provider: str = ""
) -> Account:
    if kind in PLAYER_KINDS:
        raise ValueError("system_account_get_or_create is for system accounts")
    exponent_of(currency)
    account, _ = Account.objects.get_or_create(
        tenant_id=tenant_id,
        player=None,
        kind=kind,
        currency=currency,
        provider=provider,
    )
    return account


_MOVEMENT_ACCOUNTS = """
    SELECT * FROM wallet_account
     WHERE tenant_id = %s AND currency = %s
       AND ((player_id = %s AND kind = 'player_available')
            OR (player_id IS NULL AND kind = %s AND provider = %s))
"""


def _movement_accounts(
    *, player: Player, currency: str, system_kind: str, provider: str
) -> tuple[Account, Account]:
    """The player's available account and the tenant's ``system_kind`` account, for a
    credit or a debit: one query when both exist (every movement but the first),
    created on first use.

    A raw query on purpose: this runs before every deposit, and building the same
    two-branch filter through the ORM cost about 0.4 ms of Python per call, more than
    the posting itself.
    """
    exponent_of(currency)
    available = system = None
    for account in Account.objects.raw(
        _MOVEMENT_ACCOUNTS,
        [player.tenant_id, currency, player.pk, system_kind, provider],
    ):
        if account.player_id is None:
            system = account
        else:
            available = account
    if available is None:
        available, _ = player_accounts_get_or_create(player=player, currency=currency)
    if system is None:
        system = system_account_get_or_create(
            tenant_id=player.tenant_id,
            kind=system_kind,
            currency=currency,
            provider=provider,
        )
    return available, system


# --- posting ---------------------------------------------------------------------------


def _fingerprint(
    kind: str, lines: Sequence[PostingLine], reference: str, reverses_id: int | None
) -> str:
    parts = sorted(f"{line.account.pk}:{line.amount_minor}" for line in lines)
    raw = f"{kind}|{reference}|{reverses_id or ''}|{','.join(parts)}"
    return hashlib.sha256(raw.encode()).hexdigest()


def _validate(tenant_id: int, lines: Sequence[PostingLine]) -> None:
    if len(lines) < 2:
        raise UnbalancedTransaction("A journal transaction needs at least two entries.")
    totals: dict[str, int] = defaultdict(int)
    for line in lines:
        if type(line.amount_minor) is not int or line.amount_minor == 0:
            raise ValidationFailed(
                "Entry amounts are non-zero integers in minor units.",
                details={"amount_minor": repr(line.amount_minor)},
            )
        if line.account.tenant_id != tenant_id:
            raise LedgerAccountMismatch(details={"account_id": line.account.pk})
        totals[line.account.currency] += line.amount_minor
    unbalanced = {currency: total for currency, total in totals.items() if total}
    if unbalanced:
        raise UnbalancedTransaction(details={"sum_by_currency": unbalanced})


def transaction_post(
    *,
    tenant_id: int,
    kind: str,
    lines: Sequence[PostingLine],
    idempotency_key: str,
    actor: Actor,
    reference: str = "",
    description: str = "",
    metadata: dict | None = None,
    reverses_id: int | None = None,
) -> PostingResult:
    """Post one balanced journal transaction, exactly once per ``idempotency_key``.

    A repeat with the same lines returns the first result and moves nothing; the same
    key with different lines raises ``IdempotencyKeyReuseConflict``. Locks the player
    accounts it changes, in ascending id order; never locks system accounts. Raises
    ``InsufficientFunds`` when a player balance would go negative.
    """
    _validate(tenant_id, lines)
    request_hash = _fingerprint(kind, lines, reference, reverses_id)
    poster = _post_postgres if connection.vendor == "postgresql" else _post_portable
    result_status, transaction_id = poster(
        tenant_id=tenant_id,
        kind=kind,
        lines=lines,
        idempotency_key=idempotency_key,
        request_hash=request_hash,
        actor=actor,
        reference=reference,
        description=description,
        metadata=metadata or {},
        reverses_id=reverses_id,
    )
    return _posting_result(result_status, transaction_id, idempotency_key)


def _posting_result(status: str, transaction_id: int, key: str) -> PostingResult:
    if status == "conflict":
        raise IdempotencyKeyReuseConflict(
            details={"idempotency_key": key, "transaction_id": transaction_id}
        )
    return PostingResult(transaction_id=transaction_id, replayed=status == "replayed")


def _raise_from_database(exc: DatabaseError) -> None:
    """Re-raise what the posting functions, triggers and constraints refused as its
    registry error (``common.dberrors``); anything else propagates unchanged."""
    error = translate_database_error(exc)
    if error is not None:
        raise error from exc


def _post_postgres(
    *, lines, request_hash, actor, metadata, **fields
) -> tuple[str, int]:
    request = audit_context.current()
    params = (
        fields["tenant_id"],
        fields["kind"],
        fields["idempotency_key"],
        request_hash,
        fields["reference"],
        fields["description"],
        actor.type,
        actor.user_id,
        actor.player_id,
        actor.label,
        request.request_id,
        request.ip,
        fields["reverses_id"],
        json.dumps(metadata) if metadata else "{}",
        [line.account.pk for line in lines],
        [line.amount_minor for line in lines],
        [line.account.currency for line in lines],
    )
    return _run_posting_call(sql.CALL, params, tenant_id=fields["tenant_id"])


def _run_posting_call(
    statement: str, params: tuple, *, tenant_id: int
) -> tuple[str, int | None]:
    """Outside any transaction the single statement is its own transaction (one round
    trip, triggers checked at its end); inside one it joins the caller's.

    The audit event it writes is sealed into the brand's chain after the commit
    (``audit.sealing``), not under a lock held until then."""
    # The connection once: every attribute read through the ``connection`` proxy
    # looks the wrapper up again in a thread/async-local.
    wrapper = connections[DEFAULT_DB_ALIAS]
    try:
        if wrapper.in_atomic_block:
            with transaction.atomic(savepoint=False):
                result = _call_post_function(wrapper, statement, params)
        else:
            result = _call_post_function(wrapper, statement, params)
    except DatabaseError as exc:
        _raise_from_database(exc)
        raise
    if result[0] == "posted":
        audit_seal_on_commit(tenant_id=tenant_id)
    return result


def _call_post_function(
    wrapper, statement: str, params: tuple
) -> tuple[str, int | None]:
    """The hot path's one round trip, as a prepared statement
    (``common.prepared``): about 15-25 % more postings per second from one client
    in pgbench's own comparison. ``WALLET_PREPARED_POSTING = False`` sends it
    unprepared (PgBouncer in transaction mode before 1.21)."""
    return prepared_fetchone(
        wrapper, statement, params, prepare=settings.WALLET_PREPARED_POSTING
    )


def _post_portable(
    *, lines, request_hash, actor, metadata, **fields
) -> tuple[str, int]:
    """The same algorithm as the PostgreSQL function, in Python (SQLite and others)."""
    tenant_id = fields["tenant_id"]
    key = fields["idempotency_key"]
    with transaction.atomic(savepoint=False):
        existing = (
            JournalTransaction.objects.filter(tenant_id=tenant_id, idempotency_key=key)
            .values_list("id", "request_hash")
            .first()
        )
        if existing:
            return (
                "replayed" if existing[1] == request_hash else "conflict"
            ), existing[0]

        account_ids = [line.account.pk for line in lines]
        accounts = {
            a.pk: a
            for a in Account.objects.filter(pk__in=account_ids)
            .order_by("pk")
            .select_for_update(no_key=True)
        }
        for line in lines:
            account = accounts.get(line.account.pk)
            if (
                account is None
                or account.tenant_id != tenant_id
                or (account.currency != line.account.currency)
            ):
                raise LedgerAccountMismatch(details={"account_id": line.account.pk})
        deltas: dict[int, int] = defaultdict(int)
        for line in lines:
            if accounts[line.account.pk].kind in PLAYER_KINDS:
                deltas[line.account.pk] += line.amount_minor
        for account_id in sorted(deltas):
            account = accounts[account_id]
            if account.balance_minor + deltas[account_id] < 0:
                raise InsufficientFunds(details={"account_id": account_id})
            account.balance_minor += deltas[account_id]

        try:
            with transaction.atomic():
                txn = JournalTransaction.objects.create(
                    tenant_id=tenant_id,
                    kind=fields["kind"],
                    idempotency_key=key,
                    request_hash=request_hash,
                    reference=fields["reference"],
                    description=fields["description"],
                    actor_type=actor.type,
                    actor_user_id=actor.user_id,
                    actor_player_id=actor.player_id,
                    actor_label=actor.label,
                    request_id=audit_context.current().request_id,
                    reverses_id=fields["reverses_id"],
                    metadata=metadata,
                )
        except IntegrityError:
            existing = (
                JournalTransaction.objects.filter(
                    tenant_id=tenant_id, idempotency_key=key
                )
                .values_list("id", "request_hash")
                .first()
            )
            if existing is None:
                raise
            return (
                "replayed" if existing[1] == request_hash else "conflict"
            ), existing[0]

        for account_id in sorted(deltas):
            Account.objects.filter(pk=account_id).update(
                balance_minor=F("balance_minor") + deltas[account_id]
            )
        Entry.objects.bulk_create(
            Entry(
                tenant_id=tenant_id,
                transaction=txn,
                account_id=line.account.pk,
                currency=line.account.currency,
                amount_minor=line.amount_minor,
                balance_after_minor=(
                    accounts[line.account.pk].balance_minor
                    if accounts[line.account.pk].kind in PLAYER_KINDS
                    else None
                ),
            )
            for line in lines
        )
        audit_record(
            actor=actor,
            action="ledger.transaction_posted",
            tenant_id=tenant_id,
            target_type="wallet.JournalTransaction",
            target_id=txn.pk,
            after={
                "kind": fields["kind"],
                "reference": fields["reference"],
                "entries": [
                    {
                        "account_id": line.account.pk,
                        "amount_minor": line.amount_minor,
                        "currency": line.account.currency,
                    }
                    for line in lines
                ],
            },
            reason=fields["description"],
        )
    return "posted", txn.pk


def _post_player_movement_postgres(
    *,
    player: Player,
    currency: str,
    system_kind: str,
    provider: str,
    player_amount: int,
    kind: str,
    idempotency_key: str,
    actor: Actor,
    reference: str,
    description: str,
) -> PostingResult | None:
    """PostgreSQL: a player credit (``player_amount`` > 0) or debit in one round trip,
    the accounts found inside the database (wallet_post_player_movement). ``None``
    when an account does not exist yet (the caller creates them and posts)."""
    exponent_of(currency)
    request = audit_context.current()
    status, transaction_id = _run_posting_call(
        sql.MOVEMENT_CALL,
        tenant_id=player.tenant_id,
        params=(
            player.tenant_id,
            kind,
            idempotency_key,
            reference,
            description,
            actor.type,
            actor.user_id,
            actor.player_id,
            actor.label,
            request.request_id,
            request.ip,
            "{}",
            player.pk,
            currency,
            system_kind,
            provider,
            player_amount,
        ),
    )
    if status == "missing":
        return None
    return _posting_result(status, transaction_id, idempotency_key)


# --- player-facing movements -----------------------------------------------------------


def player_credit(
    *,
    player: Player,
    currency: str,
    amount_minor: int,
    source_kind: str,
    kind: str,
    idempotency_key: str,
    actor: Actor,
    provider: str = "",
    reference: str = "",
    description: str = "",
) -> PostingResult:
    """Move money from a tenant system account (e.g. PSP clearing) to the player."""
    if amount_minor <= 0:
        raise ValidationFailed(
            "Credit amounts are positive.", details={"amount_minor": amount_minor}
        )
    if source_kind in PLAYER_KINDS:
        raise ValueError("player_credit moves money from a system account")
    return _player_movement(
        player=player,
        currency=currency,
        player_amount=amount_minor,
        system_kind=source_kind,
        kind=kind,
        idempotency_key=idempotency_key,
        actor=actor,
        provider=provider,
        reference=reference,
        description=description,
    )


def player_debit(
    *,
    player: Player,
    currency: str,
    amount_minor: int,
    destination_kind: str,
    kind: str,
    idempotency_key: str,
    actor: Actor,
    provider: str = "",
    reference: str = "",
    description: str = "",
) -> PostingResult:
    """Move money from the player's available balance to a tenant system account."""
    if amount_minor <= 0:
        raise ValidationFailed(
            "Debit amounts are positive.", details={"amount_minor": amount_minor}
        )
    if destination_kind in PLAYER_KINDS:
        raise ValueError("player_debit moves money to a system account")
    return _player_movement(
        player=player,
        currency=currency,
        player_amount=-amount_minor,
        system_kind=destination_kind,
        kind=kind,
        idempotency_key=idempotency_key,
        actor=actor,
        provider=provider,
        reference=reference,
        description=description,
    )


def _player_movement(
    *,
    player: Player,
    currency: str,
    player_amount: int,
    system_kind: str,
    kind: str,
    idempotency_key: str,
    actor: Actor,
    provider: str,
    reference: str,
    description: str,
) -> PostingResult:
    """``player_amount`` (signed) between the player's available account and a
    system account: one round trip on PostgreSQL, ``transaction_post`` elsewhere."""
    if connection.vendor == "postgresql":
        result = _post_player_movement_postgres(
            player=player,
            currency=currency,
            system_kind=system_kind,
            provider=provider,
            player_amount=player_amount,
            kind=kind,
            idempotency_key=idempotency_key,
            actor=actor,
            reference=reference,
            description=description,
        )
        if result is not None:
            return result
    available, system = _movement_accounts(
        player=player, currency=currency, system_kind=system_kind, provider=provider
    )
    # The paying side comes first, so entry order reads like the movement.
    lines = [PostingLine(system, -player_amount), PostingLine(available, player_amount)]
    if player_amount < 0:
        lines.reverse()
    return transaction_post(
        tenant_id=player.tenant_id,
        kind=kind,
        lines=lines,
        idempotency_key=idempotency_key,
        actor=actor,
        reference=reference,
        description=description,
    )


def adjustment_create(
    *,
    actor: Actor,
    player: Player,
    currency: str,
    amount_minor: int,
    reason: str,
    idempotency_key: str,
) -> PostingResult:
    """An operator's manual credit (positive) or debit (negative), against the
    tenant's adjustments account. A reason is mandatory."""
    if not reason.strip():
        raise ValidationFailed(
            "A reason is required.", details={"fields": {"reason": ["required"]}}
        )
    if amount_minor == 0:
        raise ValidationFailed(
            "The amount cannot be zero.", details={"amount_minor": 0}
        )
    mover = player_credit if amount_minor > 0 else player_debit
    side = "source_kind" if amount_minor > 0 else "destination_kind"
    return mover(
        player=player,
        currency=currency,
        amount_minor=abs(amount_minor),
        kind=Kind.ADJUSTMENT,
        idempotency_key=idempotency_key,
        actor=actor,
        reference=f"adjustment:player:{player.pk}",
        description=reason.strip(),
        **{side: Account.Kind.ADJUSTMENTS},
    )


# --- holds (two-phase) -----------------------------------------------------------------


def hold_place(
    *,
    player: Player,
    currency: str,
    amount_minor: int,
    idempotency_key: str,
    actor: Actor,
    reference: str = "",
) -> Hold:
    """available → held. A repeat with the same key returns the same hold."""
    if amount_minor <= 0:
        raise ValidationFailed(
            "Hold amounts are positive.", details={"amount_minor": amount_minor}
        )
    available, held = player_accounts_get_or_create(player=player, currency=currency)
    with transaction.atomic(savepoint=False):
        result = transaction_post(
            tenant_id=player.tenant_id,
            kind=Kind.WITHDRAWAL_HOLD,
            lines=[
                PostingLine(available, -amount_minor),
                PostingLine(held, amount_minor),
            ],
            idempotency_key=idempotency_key,
            actor=actor,
            reference=reference,
        )
        if result.replayed:
            return Hold.objects.get(place_transaction_id=result.transaction_id)
        return Hold.objects.create(
            tenant_id=player.tenant_id,
            player=player,
            currency=currency,
            amount_minor=amount_minor,
            reference=reference,
            place_transaction_id=result.transaction_id,
        )


def _hold_resolve(*, hold: Hold, actor: Actor, to_state: str, lines_for) -> Hold:
    """Needs and takes the lock on the hold row; resolves it at most once."""
    with transaction.atomic(savepoint=False):
        locked = Hold.objects.select_for_update(no_key=True).get(pk=hold.pk)
        if locked.state == to_state:
            return locked
        if locked.state != Hold.State.PENDING:
            raise IllegalStateTransition(
                entity="hold", from_state=locked.state, to_state=to_state
            )
        result = transaction_post(
            tenant_id=locked.tenant_id,
            kind=Kind.WITHDRAWAL_POST
            if to_state == Hold.State.POSTED
            else Kind.WITHDRAWAL_VOID,
            lines=lines_for(locked),
            idempotency_key=f"hold:{locked.pk}:resolve",
            actor=actor,
            reference=locked.reference,
        )
        locked.state = to_state
        locked.resolve_transaction_id = result.transaction_id
        locked.resolved_at = timezone.now()
        locked.save(update_fields=["state", "resolve_transaction", "resolved_at"])
    return locked


def hold_post(*, hold: Hold, actor: Actor, provider: str = "") -> Hold:
    """held → withdrawals in flight (the payout left)."""

    def lines_for(locked: Hold) -> list[PostingLine]:
        _, held = player_accounts_get_or_create(
            player=locked.player, currency=locked.currency
        )
        in_flight = system_account_get_or_create(
            tenant_id=locked.tenant_id,
            kind=Account.Kind.WITHDRAWALS_IN_FLIGHT,
            currency=locked.currency,
            provider=provider,
        )
        return [
            PostingLine(held, -locked.amount_minor),
            PostingLine(in_flight, locked.amount_minor),
        ]

    return _hold_resolve(
        hold=hold, actor=actor, to_state=Hold.State.POSTED, lines_for=lines_for
    )


def hold_void(*, hold: Hold, actor: Actor) -> Hold:
    """held → available (rejected, canceled or failed for good)."""

    def lines_for(locked: Hold) -> list[PostingLine]:
        available, held = player_accounts_get_or_create(
            player=locked.player, currency=locked.currency
        )
        return [
            PostingLine(held, -locked.amount_minor),
            PostingLine(available, locked.amount_minor),
        ]

    return _hold_resolve(
        hold=hold, actor=actor, to_state=Hold.State.VOIDED, lines_for=lines_for
    )


# --- corrections -----------------------------------------------------------------------

_NOT_REVERSIBLE = {
    Kind.REVERSAL,
    Kind.WITHDRAWAL_HOLD,
    Kind.WITHDRAWAL_POST,
    Kind.WITHDRAWAL_VOID,
}


def transaction_reverse(
    *, transaction_id: int, tenant_id: int, actor: Actor, reason: str
) -> PostingResult:
    """Post the mirror image of a transaction, linked to it. At most once: a repeat
    returns the first reversal. Hold movements are resolved through their hold instead."""
    if not reason.strip():
        raise ValidationFailed(
            "A reason is required.", details={"fields": {"reason": ["required"]}}
        )
    original = JournalTransaction.objects.get(pk=transaction_id, tenant_id=tenant_id)
    if original.kind in _NOT_REVERSIBLE:
        raise TransactionNotReversible(
            details={"transaction_id": original.pk, "kind": original.kind}
        )
    entries = list(original.entries.select_related("account"))
    result = transaction_post(
        tenant_id=tenant_id,
        kind=Kind.REVERSAL,
        lines=[PostingLine(entry.account, -entry.amount_minor) for entry in entries],
        idempotency_key=f"reversal:{original.pk}",
        actor=actor,
        reference=f"reversal:{original.pk}",
        description=reason.strip(),
        reverses_id=original.pk,
    )
    return result
