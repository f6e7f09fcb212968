"""Checkpoints of system account balances (``AccountCheckpoint``).

A checkpoint covers the entries up to a horizon that no posting can still add to:
the newest entry created more than ``margin`` ago, taken only when no other database
transaction has been open for longer than ``margin`` (on PostgreSQL, from
``pg_stat_activity``). An entry's ``created_at`` is never earlier than the start of
the transaction that posts it, so an entry below the horizon still uncommitted would
belong to such a transaction.
Postings are single short statements; a transaction open for minutes makes this run
skip and the next one try again. Nothing is locked: a checkpoint is an INSERT, and
reads add the entries after it. ``ledger_invariants_check`` (``reconcile``,
``check_ledger``) re-adds every checkpoint's entries and reports any difference.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from django.db import connection, transaction
from django.db.models import Max, Sum

from common import clock
from wallet.models import PLAYER_KINDS, Account, AccountCheckpoint, Entry

DEFAULT_MARGIN = timedelta(minutes=15)


@dataclass(frozen=True, slots=True)
class CheckpointRun:
    horizon_entry_id: int | None
    written: int
    skipped_reason: str = ""


def _long_transaction_open(*, since) -> bool:
    if connection.vendor != "postgresql":
        return False
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT EXISTS (SELECT 1 FROM pg_stat_activity"
            " WHERE xact_start < %s AND pid <> pg_backend_pid()"
            " AND datname = current_database())",
            [since],
        )
        return cursor.fetchone()[0]


def account_checkpoints_take(
    *, tenant_id: int | None = None, margin: timedelta = DEFAULT_MARGIN
) -> CheckpointRun:
    """Write a checkpoint for every system account with entries since its last
    checkpoint, up to the horizon. Joins the caller's transaction, locks nothing."""
    cutoff = clock.now() - margin
    if _long_transaction_open(since=cutoff):
        return CheckpointRun(None, 0, "a transaction older than the margin is open")
    horizon = Entry.objects.filter(created_at__lt=cutoff).aggregate(top=Max("id"))[
        "top"
    ]
    if horizon is None:
        return CheckpointRun(None, 0, "no entry is old enough")
    accounts = Account.objects.exclude(kind__in=PLAYER_KINDS)
    if tenant_id is not None:
        accounts = accounts.filter(tenant_id=tenant_id)
    written = 0
    with transaction.atomic(savepoint=False):
        for account in accounts.order_by("id"):
            last = (
                AccountCheckpoint.objects.filter(account=account)
                .order_by("-upto_entry_id")
                .first()
            )
            start = last.upto_entry_id if last else 0
            if start >= horizon:
                continue
            delta = Entry.objects.filter(
                account_id=account.pk, id__gt=start, id__lte=horizon
            ).aggregate(total=Sum("amount_minor"), n=Max("id"))
            if delta["n"] is None:
                continue
            AccountCheckpoint.objects.create(
                tenant_id=account.tenant_id,
                account=account,
                upto_entry_id=horizon,
                balance_minor=(last.balance_minor if last else 0) + delta["total"],
            )
            written += 1
    return CheckpointRun(horizon, written)
