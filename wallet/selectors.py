"""Reads of the ledger, shared by the API, the admin and the commands."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from django.db.models import Count, Exists, F, Min, OuterRef, Q, QuerySet, Subquery, Sum
from django.db.models.functions import Coalesce

from casino.models import Player
from common.currency import format_money
from wallet.exceptions import DepositNotFound
from wallet.models import (
    PLAYER_KINDS,
    Account,
    AccountCheckpoint,
    Deposit,
    Entry,
    Finding,
    Hold,
    JournalTransaction,
    PayoutAttempt,
    Withdrawal,
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
    """A player account's cached balance; a system account's derived one (never
    cached, never locked): its latest checkpoint plus the entries after it."""
    if account.is_player_account:
        return account.balance_minor
    annotated = getattr(account, "derived_balance", None)
    if annotated is not None:
        return annotated
    return (
        accounts_with_derived_balance(Account.objects.filter(pk=account.pk))
        .values_list("derived_balance", flat=True)
        .get()
    )


def accounts_with_derived_balance(accounts: QuerySet[Account]) -> QuerySet[Account]:
    """``accounts`` annotated with ``derived_balance``: the latest checkpoint's
    balance plus the sum of the entries after it (an index range on
    ``entry_account_recent``), in the same query as the accounts. Player accounts
    get the same figure, which equals their cached balance."""
    latest = AccountCheckpoint.objects.filter(account=OuterRef("pk")).order_by(
        "-upto_entry_id"
    )
    since = (
        Entry.objects.filter(account=OuterRef("pk"), id__gt=OuterRef("checkpoint_upto"))
        .order_by()
        .values("account")
        .annotate(total=Sum("amount_minor"))
        .values("total")
    )
    return accounts.annotate(
        checkpoint_upto=Coalesce(Subquery(latest.values("upto_entry_id")[:1]), 0),
        checkpoint_balance=Coalesce(Subquery(latest.values("balance_minor")[:1]), 0),
    ).annotate(derived_balance=F("checkpoint_balance") + Coalesce(Subquery(since), 0))


def system_account_list_with_balances(*, tenant_id: int) -> list[tuple[Account, int]]:
    accounts = accounts_with_derived_balance(
        Account.objects.filter(tenant_id=tenant_id, player__isnull=True)
    )
    return [(account, account.derived_balance) for account in accounts]


def finding_open_counts(*, tenant_id: int | None = None) -> dict[str, int]:
    """Open findings per severity (every severity present, zero when none)."""
    queryset = Finding.objects.filter(status=Finding.Status.OPEN)
    if tenant_id is not None:
        queryset = queryset.filter(tenant_id=tenant_id)
    counts = dict.fromkeys(Finding.Severity.values, 0)
    for row in queryset.values("severity").annotate(n=Count("id")).order_by():
        counts[row["severity"]] = row["n"]
    return counts


def finding_critical_open_exists(*, tenant_id: int | None = None) -> bool:
    queryset = Finding.objects.filter(
        status=Finding.Status.OPEN, severity=Finding.Severity.CRITICAL
    )
    if tenant_id is not None:
        queryset = queryset.filter(tenant_id=tenant_id)
    return queryset.exists()


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
        f"transaction {row['transaction_id']} sums to "
        f"{format_money(row['total'], row['currency'])}"
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
        f"account {pk} caches {format_money(balance, currency)} but its entries "
        f"sum to {format_money(derived, currency)}"
        for pk, balance, derived, currency in players.exclude(
            balance_minor=F("derived")
        ).values_list("pk", "balance_minor", "derived", "currency")
    ]
    for checkpoint in AccountCheckpoint.objects.filter(scope).order_by("id"):
        summed = (
            Entry.objects.filter(
                account_id=checkpoint.account_id, id__lte=checkpoint.upto_entry_id
            ).aggregate(total=Sum("amount_minor"))["total"]
            or 0
        )
        if summed != checkpoint.balance_minor:
            problems.append(
                f"checkpoint {checkpoint.pk} of account {checkpoint.account_id} says "
                f"{checkpoint.balance_minor} up to entry {checkpoint.upto_entry_id} "
                f"but those entries sum to {summed}"
            )
    problems += [
        f"account {pk} is negative ({format_money(balance, currency)})"
        for pk, balance, currency in Account.objects.filter(
            scope, kind__in=PLAYER_KINDS, balance_minor__lt=0
        ).values_list("pk", "balance_minor", "currency")
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
                f"player {key[0]} {key[1]}: held "
                f"{format_money(held.get(key, 0), key[1])} but pending holds "
                f"{format_money(pending.get(key, 0), key[1])}"
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


# --- operations: what the cron commands look at ------------------------------------


def deposit_stale_list(
    *, created_before: datetime, tenant_id: int | None = None
) -> QuerySet[Deposit]:
    """Deposits still waiting for their PSP (``created`` or ``pending_provider``)
    that were started before ``created_before``, oldest first. ``tenant_id`` None
    means every tenant (the cron command's default)."""
    queryset = Deposit.objects.filter(
        state__in=[Deposit.State.CREATED, Deposit.State.PENDING_PROVIDER],
        created_at__lt=created_before,
    )
    if tenant_id is not None:
        queryset = queryset.filter(tenant_id=tenant_id)
    return queryset.select_related("tenant").order_by("id")


def payout_attempt_open_list(
    *, sent_before: datetime, tenant_id: int | None = None
) -> QuerySet[PayoutAttempt]:
    """Payout attempts whose outcome we do not know: ``unknown`` (the provider did
    not answer) at any age, and ``pending`` / ``sent`` ones created before
    ``sent_before`` (never dispatched, or waiting at the PSP for long). Only attempts
    of withdrawals still ``payout_pending``; oldest first."""
    states = PayoutAttempt.State
    queryset = PayoutAttempt.objects.filter(
        Q(state=states.UNKNOWN)
        | Q(state__in=[states.PENDING, states.SENT], created_at__lt=sent_before),
        withdrawal__state=Withdrawal.State.PAYOUT_PENDING,
    )
    if tenant_id is not None:
        queryset = queryset.filter(tenant_id=tenant_id)
    return queryset.select_related("withdrawal", "tenant").order_by("id")


# Withdrawal states whose funds are held (the hold is still pending).
WITHDRAWAL_HOLDING_STATES = (
    "requested",
    "approved",
    "payout_pending",
    "payout_failed",
)
_DEPOSIT_REFERENCE = "deposit:"


def _deposit_postings(*, scope: Q, kind: str) -> dict[int, list[tuple[int, int]]]:
    """``{deposit id: [(transaction id, amount)]}`` for the postings of one kind
    whose reference is ``deposit:<id>``. The amount of a posting is the sum of its
    positive entries (a credit: the player's side; a refund or chargeback: what went
    back to PSP clearing), which does not depend on how the player's share was
    split between cash and the chargeback receivable."""
    found: dict[int, list[tuple[int, int]]] = {}
    rows = (
        JournalTransaction.objects.filter(
            scope, kind=kind, reference__startswith=_DEPOSIT_REFERENCE
        )
        .annotate(
            amount=Coalesce(
                Sum("entries__amount_minor", filter=Q(entries__amount_minor__gt=0)), 0
            )
        )
        .values_list("pk", "reference", "amount")
        .order_by("pk")
    )
    for pk, reference, amount in rows:
        suffix = reference.removeprefix(_DEPOSIT_REFERENCE)
        if suffix.isdigit():
            found.setdefault(int(suffix), []).append((pk, amount))
    return found


def payments_invariants_check(*, tenant_id: int | None = None) -> list[str]:
    """Violations of the invariants between deposits, withdrawals and the ledger,
    as readable lines (empty = clean). Complements ``ledger_invariants_check``:

    - every completed deposit has exactly one credit posting (kind ``deposit``,
      reference ``deposit:<id>``), it is the deposit's ``credit_transaction``, and
      its amount is the deposit's; a deposit that is not completed has none;
    - a deposit's ``refunded_minor`` / ``charged_back_minor`` equal the refund /
      chargeback postings booked for it (reversals of either are postings of their
      own and leave those totals as they were, as the services do);
    - each player's held balance equals the holds of their withdrawals still holding
      funds (requested, approved, payout_pending, payout_failed), per currency, and
      each such withdrawal's hold is pending;
    - no withdrawal is ``paid`` without a posted hold, and none is rejected or
      canceled with its hold not voided;
    - ``DEPOSIT_CREDIT_WITHOUT_DEPOSIT``: every posting of kind ``deposit`` names a
      deposit (reference ``deposit:<id>``): money credited as a deposit with no
      deposit record behind it (a script, a seed, a manual posting) is reported;
    - ``PAYOUT_WITHOUT_WITHDRAWAL``: every payout posting (kind
      ``withdrawal_post``, or any posting that moves money into a
      ``withdrawals_in_flight`` account) is the posting of a withdrawal's hold.
    """
    scope = Q() if tenant_id is None else Q(tenant_id=tenant_id)
    problems: list[str] = []

    credits = _deposit_postings(scope=scope, kind=JournalTransaction.Kind.DEPOSIT)
    refunds = _deposit_postings(scope=scope, kind=JournalTransaction.Kind.REFUND)
    chargebacks = _deposit_postings(
        scope=scope, kind=JournalTransaction.Kind.CHARGEBACK
    )
    deposits = (
        Deposit.objects.filter(scope)
        .values_list(
            "pk",
            "state",
            "amount_minor",
            "currency",
            "credit_transaction_id",
            "refunded_minor",
            "charged_back_minor",
        )
        .order_by("pk")
    )
    known = set()
    for pk, state, amount, currency, credit_id, refunded, charged_back in deposits:
        known.add(pk)
        postings = credits.get(pk, [])
        if state == Deposit.State.COMPLETED:
            if len(postings) != 1:
                problems.append(
                    f"deposit {pk} is completed with {len(postings)} credit postings "
                    f"(transactions {', '.join(str(t) for t, _ in postings) or '-'})"
                )
            if credit_id not in {txn for txn, _ in postings}:
                problems.append(
                    f"deposit {pk} names credit transaction {credit_id}, which is not "
                    "a credit posting of this deposit"
                )
            for txn, credited in postings:
                if credited != amount:
                    problems.append(
                        f"deposit {pk} is {format_money(amount, currency)} but its "
                        f"credit transaction {txn} credited "
                        f"{format_money(credited, currency)}"
                    )
        elif postings:
            problems.append(
                f"deposit {pk} is {state} but has credit postings "
                f"(transactions {', '.join(str(t) for t, _ in postings)})"
            )
        for label, total, booked in (
            ("refunded", refunded, refunds.get(pk, [])),
            ("charged back", charged_back, chargebacks.get(pk, [])),
        ):
            posted = sum(value for _, value in booked)
            if posted != total:
                problems.append(
                    f"deposit {pk} records {format_money(total, currency)} {label} "
                    f"but its postings total {format_money(posted, currency)}"
                )
    for pk in sorted(set(credits) - known):
        problems.append(f"credit postings reference deposit {pk}, which does not exist")
    problems += _deposit_credits_without_deposit(scope=scope)
    problems += _payouts_without_withdrawal(scope=scope)

    withdrawals = (
        Withdrawal.objects.filter(scope)
        .values_list(
            "pk", "player_id", "currency", "state", "hold__state", "hold__amount_minor"
        )
        .order_by("pk")
    )
    holding: dict[tuple[int, str], int] = {}
    for pk, player_id, currency, state, hold_state, hold_amount in withdrawals:
        if state in WITHDRAWAL_HOLDING_STATES:
            if hold_state != Hold.State.PENDING:
                problems.append(
                    f"withdrawal {pk} is {state} but its hold is {hold_state or 'missing'}"
                )
            else:
                key = (player_id, currency)
                holding[key] = holding.get(key, 0) + hold_amount
        elif state == Withdrawal.State.PAID and hold_state != Hold.State.POSTED:
            problems.append(
                f"withdrawal {pk} is paid but its hold is {hold_state or 'missing'}, "
                "not posted"
            )
        elif (
            state in (Withdrawal.State.REJECTED, Withdrawal.State.CANCELED)
            and hold_state != Hold.State.VOIDED
        ):
            problems.append(
                f"withdrawal {pk} is {state} but its hold is {hold_state or 'missing'}, "
                "not voided"
            )
    held = {
        (player_id, currency): balance
        for player_id, currency, balance in Account.objects.filter(
            scope, kind=Account.Kind.PLAYER_HELD
        ).values_list("player_id", "currency", "balance_minor")
    }
    for key in sorted(set(held) | set(holding)):
        if held.get(key, 0) != holding.get(key, 0):
            problems.append(
                f"player {key[0]} {key[1]}: held "
                f"{format_money(held.get(key, 0), key[1])} but withdrawals awaiting "
                f"payout hold {format_money(holding.get(key, 0), key[1])}"
            )
    return problems


def _with_amount(queryset: QuerySet) -> QuerySet:
    """Each transaction's positive side and its currency, for a readable line."""
    return queryset.annotate(
        amount=Coalesce(
            Sum("entries__amount_minor", filter=Q(entries__amount_minor__gt=0)), 0
        ),
        money_currency=Min("entries__currency"),
    ).order_by("pk")


def _deposit_credits_without_deposit(*, scope: Q) -> list[str]:
    """Deposit-kind postings whose reference names no deposit (``deposit:<id>`` with
    an id that does not exist is reported with the deposits above)."""
    orphans = _with_amount(
        JournalTransaction.objects.filter(
            scope, kind=JournalTransaction.Kind.DEPOSIT
        ).exclude(reference__regex=rf"^{_DEPOSIT_REFERENCE}[0-9]+$")
    )
    return [
        f"DEPOSIT_CREDIT_WITHOUT_DEPOSIT transaction {pk} credits "
        f"{format_money(amount, currency)} as a deposit (reference {reference!r}) "
        "but names no deposit record"
        for pk, reference, amount, currency in orphans.values_list(
            "pk", "reference", "amount", "money_currency"
        )
    ]


def _payouts_without_withdrawal(*, scope: Q) -> list[str]:
    """Postings that pay money out (kind ``withdrawal_post``, or into withdrawals in
    flight) and are not the posting of a withdrawal's hold."""
    into_flight = Entry.objects.filter(
        transaction=OuterRef("pk"),
        account__kind=Account.Kind.WITHDRAWALS_IN_FLIGHT,
        amount_minor__gt=0,
    )
    of_a_withdrawal = Withdrawal.objects.filter(
        hold__resolve_transaction=OuterRef("pk")
    )
    orphans = _with_amount(
        JournalTransaction.objects.filter(scope)
        .filter(Q(kind=JournalTransaction.Kind.WITHDRAWAL_POST) | Exists(into_flight))
        .exclude(Exists(of_a_withdrawal))
    )
    return [
        f"PAYOUT_WITHOUT_WITHDRAWAL transaction {pk} ({kind}) pays out "
        f"{format_money(amount, currency)} but is no withdrawal's payout"
        for pk, kind, amount, currency in orphans.values_list(
            "pk", "kind", "amount", "money_currency"
        )
    ]


@dataclass(frozen=True, slots=True)
class SystemBalance:
    tenant_slug: str
    kind: str
    provider: str
    currency: str
    balance_minor: int


def system_balance_list(*, tenant_id: int | None = None) -> list[SystemBalance]:
    """Every system account's derived balance (the sum of its entries), per tenant,
    kind, provider and currency: what the operator compares with the PSP's and the
    bank's statements."""
    accounts = Account.objects.filter(player__isnull=True)
    if tenant_id is not None:
        accounts = accounts.filter(tenant_id=tenant_id)
    rows = (
        accounts_with_derived_balance(accounts)
        .values_list("tenant__slug", "kind", "provider", "currency", "derived_balance")
        .order_by("tenant__slug", "kind", "provider", "currency")
    )
    return [SystemBalance(*row) for row in rows]
