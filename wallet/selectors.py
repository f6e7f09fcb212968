"""Reads of the ledger, shared by the API, the admin and the commands."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from django.db.models import F, Q, QuerySet, Sum
from django.db.models.functions import Coalesce

from casino.models import Player
from wallet.exceptions import DepositNotFound
from wallet.models import (
    PLAYER_KINDS,
    Account,
    Deposit,
    Entry,
    Hold,
    JournalTransaction,
)


@dataclass(frozen=True, slots=True)
class Balance:
    currency: str
    available_minor: int
    held_minor: int

    @property
    def total_minor(self) -> int:
        return self.available_minor + self.held_minor


def balance_list(*, player: Player) -> list[Balance]:
    """One row per currency the player has an account in."""
    by_currency: dict[str, dict[str, int]] = {}
    rows = Account.objects.filter(
        tenant_id=player.tenant_id, player=player, kind__in=PLAYER_KINDS
    ).values_list("currency", "kind", "balance_minor")
    for currency, kind, balance in rows:
        by_currency.setdefault(currency, {})[kind] = balance
    return [
        Balance(
            currency=currency,
            available_minor=kinds.get(Account.Kind.PLAYER_AVAILABLE, 0),
            held_minor=kinds.get(Account.Kind.PLAYER_HELD, 0),
        )
        for currency, kinds in sorted(by_currency.items())
    ]


def player_entry_list(
    *,
    player: Player,
    kind: str | None = None,
    currency: str | None = None,
    created_after: datetime | None = None,
    created_before: datetime | None = None,
) -> QuerySet[Entry]:
    """The player's ledger lines (both available and held accounts), newest first."""
    queryset = Entry.objects.filter(
        tenant_id=player.tenant_id, account__player=player
    ).select_related("transaction", "account")
    if kind:
        queryset = queryset.filter(transaction__kind=kind)
    if currency:
        queryset = queryset.filter(currency=currency)
    if created_after:
        queryset = queryset.filter(created_at__gte=created_after)
    if created_before:
        queryset = queryset.filter(created_at__lt=created_before)
    return queryset.order_by("-id")


def account_balance(*, account: Account) -> int:
    """A system account's balance is the sum of its entries (never cached, never locked)."""
    if account.is_player_account:
        return account.balance_minor
    return account.entries.aggregate(total=Sum("amount_minor"))["total"] or 0


def system_account_list_with_balances(*, tenant_id: int) -> list[tuple[Account, int]]:
    accounts = Account.objects.filter(
        tenant_id=tenant_id, player__isnull=True
    ).annotate(derived=Sum("entries__amount_minor"))
    return [(account, account.derived or 0) for account in accounts]


def ledger_invariants_check(*, tenant_id: int | None = None) -> list[str]:
    """Every violation of the ledger's invariants, as readable lines (empty = clean):
    each transaction balances per currency, each entry is in its account's currency
    and tenant, each cached player balance equals the sum of its entries, no player
    balance is negative, held balances equal pending holds."""
    scope = Q() if tenant_id is None else Q(tenant_id=tenant_id)
    problems: list[str] = []

    unbalanced = (
        Entry.objects.filter(scope)
        .values("transaction_id", "currency")
        .annotate(total=Sum("amount_minor"))
        .exclude(total=0)
    )
    problems += [
        f"transaction {row['transaction_id']} sums to {row['total']} {row['currency']}"
        for row in unbalanced
    ]
    empty = JournalTransaction.objects.filter(scope).filter(entries__isnull=True)
    problems += [
        f"transaction {txn_id} has no entries"
        for txn_id in empty.values_list("id", flat=True)
    ]

    strays = Entry.objects.filter(scope).exclude(
        currency=F("account__currency"), tenant_id=F("account__tenant_id")
    )
    problems += [
        f"entry {pk} on account {account_id} is in {currency} for tenant {tenant_id}, "
        f"its account in {account_currency} for tenant {account_tenant_id}"
        for pk, account_id, currency, tenant_id, account_currency, account_tenant_id in (
            strays.values_list(
                "pk",
                "account_id",
                "currency",
                "tenant_id",
                "account__currency",
                "account__tenant_id",
            )
        )
    ]

    # Coalesce: an account without entries derives 0 (a bare SUM would be NULL, and
    # NULL compares as neither equal nor different, hiding a drifted cached balance).
    players = Account.objects.filter(scope, kind__in=PLAYER_KINDS).annotate(
        derived=Coalesce(Sum("entries__amount_minor"), 0)
    )
    problems += [
        f"account {pk} caches {balance} but its entries sum to {derived}"
        for pk, balance, derived in players.exclude(
            balance_minor=F("derived")
        ).values_list("pk", "balance_minor", "derived")
    ]
    problems += [
        f"account {pk} is negative ({balance})"
        for pk, balance in Account.objects.filter(
            scope, kind__in=PLAYER_KINDS, balance_minor__lt=0
        ).values_list("pk", "balance_minor")
    ]

    pending = {
        (row["player_id"], row["currency"]): row["total"]
        for row in Hold.objects.filter(scope, state=Hold.State.PENDING)
        .values("player_id", "currency")
        .annotate(total=Sum("amount_minor"))
    }
    held = {
        (row["player_id"], row["currency"]): row["balance_minor"]
        for row in Account.objects.filter(scope, kind=Account.Kind.PLAYER_HELD).values(
            "player_id", "currency", "balance_minor"
        )
    }
    for key in set(pending) | set(held):
        if pending.get(key, 0) != held.get(key, 0):
            problems.append(
                f"player {key[0]} {key[1]}: held {held.get(key, 0)} but pending holds "
                f"{pending.get(key, 0)}"
            )
    return problems


def withdrawal_list(*, tenant_id: int, player: Player | None = None) -> QuerySet:
    """A tenant's withdrawals (one player's when given), newest first."""
    from wallet.models import Withdrawal

    queryset = Withdrawal.objects.filter(tenant_id=tenant_id)
    if player is not None:
        queryset = queryset.filter(player=player)
    return queryset.select_related("player").order_by("-id")


def withdrawal_get(*, tenant_id: int, player: Player, withdrawal_id: int):
    """One of the player's withdrawals; ``NotFound`` for anyone else's."""
    from common.errors import NotFound
    from wallet.models import Withdrawal

    withdrawal = Withdrawal.objects.filter(
        tenant_id=tenant_id, player=player, pk=withdrawal_id
    ).first()
    if withdrawal is None:
        raise NotFound(details={"withdrawal_id": withdrawal_id})
    return withdrawal


def deposit_list(*, player: Player) -> QuerySet[Deposit]:
    """The player's deposits, newest first."""
    return Deposit.objects.filter(tenant_id=player.tenant_id, player=player).order_by(
        "-id"
    )


def deposit_get(*, player: Player, deposit_id: int) -> Deposit:
    """One of the player's deposits; another player's or brand's is "not found"."""
    deposit = deposit_list(player=player).filter(pk=deposit_id).first()
    if deposit is None:
        raise DepositNotFound(details={"deposit_id": deposit_id})
    return deposit
