"""What must hold after the load run, read from the database, the fake PSPs and what
the clients saw. Each check returns readable problem lines (empty = it holds)."""

from __future__ import annotations

import io
from collections import Counter
from collections.abc import Iterable

from django.core.management import call_command
from django.core.management.base import CommandError
from django.db.models import Count

from payments.models import Refund, WebhookInbox
from wallet.models import (
    Deposit,
    JournalTransaction,
    PayoutAttempt,
    Withdrawal,
)
from wallet.selectors import ledger_invariants_check, payments_invariants_check

Status = WebhookInbox.Status


def outbox_waiting(*, tenant_id: int) -> dict[str, int]:
    """Rows of the brand the workers still have to move (payments/outbox.py)."""
    return {
        "webhook deliveries": WebhookInbox.objects.filter(
            tenant_id=tenant_id, status__in=(Status.RECEIVED, Status.FAILED)
        ).count(),
        "payout attempts never sent": PayoutAttempt.objects.filter(
            tenant_id=tenant_id, state=PayoutAttempt.State.PENDING
        ).count(),
        "refunds never sent": Refund.objects.filter(
            tenant_id=tenant_id, state=Refund.State.PENDING, provider_reference=""
        ).count(),
        "deposits without a checkout": Deposit.objects.filter(
            tenant_id=tenant_id, state=Deposit.State.CREATED
        ).count(),
    }


def invariants(*, tenant_id: int) -> list[str]:
    """Every journal transaction sums to zero, cached balances equal entries, no
    negative balance, held equals open withdrawals, each completed deposit exactly
    one credit (the reconcile selectors)."""
    return ledger_invariants_check(tenant_id=tenant_id) + payments_invariants_check(
        tenant_id=tenant_id
    )


def command_clean(name: str, **options) -> list[str]:
    out = io.StringIO()
    try:
        call_command(name, stdout=out, stderr=io.StringIO(), **options)
    except CommandError as exc:
        lines = [line for line in out.getvalue().splitlines() if "VIOLATION" in line]
        return [f"{name}: {exc}", *lines[:10]]
    return []


def money_moved_once(*, tenant_id: int) -> list[str]:
    """Every PSP event moved money at most once: no deposit credited twice, no
    withdrawal's hold posted twice, nothing dead-lettered."""
    problems = []
    for kind, moved in (
        (JournalTransaction.Kind.DEPOSIT, "credited"),
        (JournalTransaction.Kind.WITHDRAWAL_POST, "paid out"),
    ):
        repeated = (
            JournalTransaction.objects.filter(tenant_id=tenant_id, kind=kind)
            .values("reference")
            .annotate(n=Count("id"))
            .filter(n__gt=1)
        )
        problems += [f"{row['reference']} {moved} {row['n']} times" for row in repeated]
    dead = WebhookInbox.objects.filter(tenant_id=tenant_id, status=Status.DEAD)
    problems += [
        f"webhook delivery {pk} dead-lettered"
        for pk in dead.values_list("pk", flat=True)
    ]
    return problems


def nothing_lost(
    *, tenant_id: int, paid_deposits: Iterable[int], withdrawals: Iterable[int]
) -> list[str]:
    """Every deposit a PSP notification was acknowledged for is completed; every
    withdrawal a player was answered 201 for exists."""
    paid = set(paid_deposits)
    completed = set(
        Deposit.objects.filter(
            tenant_id=tenant_id, pk__in=paid, state=Deposit.State.COMPLETED
        ).values_list("pk", flat=True)
    )
    problems = [
        f"deposit {pk} was paid (notification acknowledged) but is not completed"
        for pk in sorted(paid - completed)
    ]
    asked = set(withdrawals)
    found = set(
        Withdrawal.objects.filter(tenant_id=tenant_id, pk__in=asked).values_list(
            "pk", flat=True
        )
    )
    problems += [
        f"withdrawal {pk} was answered 201 but is missing"
        for pk in sorted(asked - found)
    ]
    return problems


def transfers_once(*, tenant_id: int, transfer_requests: list[dict]) -> list[str]:
    """Every paid withdrawal with a bank leg: one payout posting and one transfer
    key at the PSP (all of its transfer requests carry the same Idempotency-Key)."""
    keys: dict[int, set[str]] = {}
    for request in transfer_requests:
        reference = str(request["json"].get("reference", ""))
        if not reference.startswith("withdrawal:"):
            continue
        withdrawal_id = int(reference.split(":")[1])
        headers = {k.lower(): v for k, v in request["headers"].items()}
        keys.setdefault(withdrawal_id, set()).add(headers.get("idempotency-key", ""))
    posts = Counter(
        JournalTransaction.objects.filter(
            tenant_id=tenant_id, kind=JournalTransaction.Kind.WITHDRAWAL_POST
        ).values_list("reference", flat=True)
    )
    problems = []
    paid = Withdrawal.objects.filter(
        tenant_id=tenant_id, state=Withdrawal.State.PAID, hold__state="posted"
    ).values_list("pk", flat=True)
    for pk in paid:
        if posts[f"withdrawal:{pk}"] != 1:
            problems.append(
                f"withdrawal {pk} is paid with {posts[f'withdrawal:{pk}']} postings"
            )
        if len(keys.get(pk, ())) != 1:
            problems.append(
                f"withdrawal {pk} is paid with {len(keys.get(pk, ()))} transfer keys"
            )
    return problems
