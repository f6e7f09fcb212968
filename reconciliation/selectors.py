"""Finance reads: the dashboard's figures and the player-liability report.

Both read through ``common.db_router.replica_reads`` (the replica when one is
configured) and always filter on the tenant."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from django.db.models import Count, OuterRef, Q, Subquery, Sum
from django.db.models.functions import TruncDate

from common import clock
from common.db_router import replica_reads
from payments.models import Dispute, Refund
from wallet.models import (
    PLAYER_KINDS,
    Account,
    Deposit,
    Entry,
    Hold,
    PayoutAttempt,
    Withdrawal,
)
from wallet.selectors import finding_open_counts

OPEN_WITHDRAWAL_STATES = (
    Withdrawal.State.REQUESTED,
    Withdrawal.State.APPROVED,
    Withdrawal.State.PAYOUT_PENDING,
    Withdrawal.State.PAYOUT_FAILED,
)
#: Age buckets of the withdrawal queue: (label, younger than, at least this old).
AGE_BUCKETS = (
    ("< 1 h", timedelta(hours=1), None),
    ("1-24 h", timedelta(days=1), timedelta(hours=1)),
    ("1-3 days", timedelta(days=3), timedelta(days=1)),
    ("> 3 days", None, timedelta(days=3)),
)
SERIES = ("deposits", "withdrawals", "refunds", "chargebacks")


@dataclass
class Day:
    day: date
    deposits: int = 0
    deposits_count: int = 0
    withdrawals: int = 0
    withdrawals_count: int = 0
    refunds: int = 0
    chargebacks: int = 0

    @property
    def net(self) -> int:
        return self.deposits - self.withdrawals - self.refunds - self.chargebacks


@dataclass
class Dashboard:
    tenant_id: int
    currency: str
    start: date
    end: date  # inclusive
    days: list[Day] = field(default_factory=list)
    pending_holds_minor: int = 0
    pending_holds_count: int = 0
    open_findings: dict[str, int] = field(default_factory=dict)
    withdrawal_queue: list[tuple[str, int, int]] = field(default_factory=list)

    def total(self, name: str) -> int:
        return sum(getattr(day, name) for day in self.days)


def _bounds(start: date, end: date) -> tuple[datetime, datetime]:
    tz = clock.now().tzinfo
    low = datetime.combine(start, datetime.min.time(), tzinfo=tz)
    return low, datetime.combine(
        end + timedelta(days=1), datetime.min.time(), tzinfo=tz
    )


def finance_dashboard(
    *, tenant_id: int, currency: str, start: date, end: date
) -> Dashboard:
    """Daily money in and out of one brand in one currency, what is held for
    withdrawals, the open findings and the withdrawal queue by age. Every query is
    scoped to the tenant and bounded by an index on it."""
    low, high = _bounds(start, end)
    board = Dashboard(tenant_id=tenant_id, currency=currency, start=start, end=end)
    days = {
        start + timedelta(days=n): Day(start + timedelta(days=n))
        for n in range((end - start).days + 1)
    }
    with replica_reads():
        for row in (
            Deposit.objects.filter(
                tenant_id=tenant_id,
                currency=currency,
                state=Deposit.State.COMPLETED,
                completed_at__gte=low,
                completed_at__lt=high,
            )
            .annotate(day=TruncDate("completed_at"))
            .values("day")
            # Count a column of deposit_tenant_completed (not the id) so the whole
            # sum is an index-only scan.
            .annotate(total=Sum("amount_minor"), n=Count("amount_minor"))
            .order_by()
        ):
            if row["day"] in days:
                days[row["day"]].deposits = row["total"]
                days[row["day"]].deposits_count = row["n"]
        for row in (
            PayoutAttempt.objects.filter(
                tenant_id=tenant_id,
                state=PayoutAttempt.State.PAID,
                withdrawal__currency=currency,
                resolved_at__gte=low,
                resolved_at__lt=high,
            )
            .annotate(day=TruncDate("resolved_at"))
            .values("day")
            .annotate(total=Sum("withdrawal__amount_minor"), n=Count("id"))
            .order_by()
        ):
            if row["day"] in days:
                days[row["day"]].withdrawals = row["total"]
                days[row["day"]].withdrawals_count = row["n"]
        for row in (
            Refund.objects.filter(
                tenant_id=tenant_id,
                currency=currency,
                state=Refund.State.SUCCEEDED,
                updated_at__gte=low,
                updated_at__lt=high,
            )
            .annotate(day=TruncDate("updated_at"))
            .values("day")
            .annotate(total=Sum("amount_minor"))
            .order_by()
        ):
            if row["day"] in days:
                days[row["day"]].refunds = row["total"]
        for row in (
            Dispute.objects.filter(
                tenant_id=tenant_id,
                currency=currency,
                stage__in=[
                    Dispute.Stage.CHARGEBACK,
                    Dispute.Stage.SECOND_CHARGEBACK,
                    Dispute.Stage.PREARBITRATION_LOST,
                ],
                updated_at__gte=low,
                updated_at__lt=high,
            )
            .annotate(day=TruncDate("updated_at"))
            .values("day")
            .annotate(total=Sum("amount_minor"))
            .order_by()
        ):
            if row["day"] in days:
                days[row["day"]].chargebacks = row["total"] or 0
        holds = Hold.objects.filter(
            tenant_id=tenant_id, currency=currency, state=Hold.State.PENDING
        ).aggregate(total=Sum("amount_minor"), n=Count("id"))
        board.pending_holds_minor = holds["total"] or 0
        board.pending_holds_count = holds["n"]
        board.withdrawal_queue = _withdrawal_queue(
            tenant_id=tenant_id, currency=currency
        )
        board.open_findings = finding_open_counts(tenant_id=tenant_id)
    board.days = [days[day] for day in sorted(days)]
    return board


def _withdrawal_queue(*, tenant_id: int, currency: str) -> list[tuple[str, int, int]]:
    """Open withdrawals by age: ``(bucket, count, amount)``, in one query."""
    now = clock.now()
    aggregates = {}
    for index, (_, younger, older) in enumerate(AGE_BUCKETS):
        q = Q()
        if younger is not None:
            q &= Q(requested_at__gt=now - younger)
        if older is not None:
            q &= Q(requested_at__lte=now - older)
        aggregates[f"n{index}"] = Count("id", filter=q)
        aggregates[f"s{index}"] = Sum("amount_minor", filter=q)
    totals = Withdrawal.objects.filter(
        tenant_id=tenant_id, currency=currency, state__in=OPEN_WITHDRAWAL_STATES
    ).aggregate(**aggregates)
    return [
        (label, totals[f"n{index}"] or 0, totals[f"s{index}"] or 0)
        for index, (label, _, _) in enumerate(AGE_BUCKETS)
    ]


@dataclass(frozen=True, slots=True)
class LiabilityRow:
    currency: str
    players: int
    available_minor: int
    held_minor: int

    @property
    def total_minor(self) -> int:
        return self.available_minor + self.held_minor


def liability_at(*, tenant_id: int, at: datetime) -> list[LiabilityRow]:
    """Player funds per currency at the instant ``at``: available balances plus the
    funds held for withdrawals, from ``balance_after_minor`` on each player
    account's last entry at or before ``at`` (entries of one account are ordered by
    id: they are posted under the account's lock). Equals the sum of the players'
    entries up to that instant. One index probe per player account
    (``entry_account_recent``)."""
    last = (
        Entry.objects.filter(account=OuterRef("pk"), created_at__lte=at)
        .order_by("-id")
        .values("balance_after_minor")[:1]
    )
    totals: dict[str, list] = defaultdict(lambda: [set(), 0, 0])
    with replica_reads():
        rows = (
            Account.objects.filter(tenant_id=tenant_id, kind__in=PLAYER_KINDS)
            .annotate(balance_then=Subquery(last))
            .filter(balance_then__isnull=False)
            .values_list("currency", "kind", "player_id", "balance_then")
            .order_by()
        )
        for currency, kind, player_id, balance in rows.iterator(chunk_size=5000):
            total = totals[currency]
            if balance:
                total[0].add(player_id)
            total[1 if kind == Account.Kind.PLAYER_AVAILABLE else 2] += balance
    return [
        LiabilityRow(currency, len(players), available, held)
        for currency, (players, available, held) in sorted(totals.items())
    ]
