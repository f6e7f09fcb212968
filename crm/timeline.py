"""One chronological timeline of a player, read straight from the source tables.

Nothing is copied into a timeline table that could drift: each source (deposits,
withdrawals, ledger adjustments, notes, tag changes, account events from the audit
trail, campaign sends) answers one keyset query ``WHERE player = … AND (time, id) <
cursor ORDER BY time DESC, id DESC LIMIT n+1`` over an index that starts with the
player, and the page is the merge of those short lists. A page therefore costs
``sources × (page size + 1)`` rows however long the history is (see docs/crm.md for
the measurement at 100k entries).

The order is (time, source rank, id), newest first; the cursor carries the last
item's triple, so a page never repeats or skips an item even when two sources share
a timestamp."""

from __future__ import annotations

import base64
import heapq
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from django.db.models import Q, QuerySet
from django.utils.dateparse import parse_datetime

from audit.models import AuditEvent
from casino.models import Player
from common.currency import format_money
from crm.models import CampaignSend, Note, PlayerTagChange
from wallet.models import Deposit, Entry, JournalTransaction, Withdrawal

DEFAULT_PAGE_SIZE = 50
MAX_PAGE_SIZE = 200

#: Audit actions about the player's account that belong on the timeline.
ACCOUNT_EVENTS = {
    "player.registered": "Registered",
    "player.logged_in": "Logged in",
    "player.status_changed": "Status changed",
    "player.kyc_status_changed": "KYC status changed",
    "player.withdrawals_frozen": "Withdrawals frozen",
    "crm.consent_changed": "Marketing consent changed",
}


money = format_money


@dataclass(frozen=True)
class TimelineItem:
    at: datetime
    rank: int
    id: int
    kind: str
    title: str
    detail: str = ""
    amount: str = ""
    link: tuple[str, int] | None = None  # (admin url name, object id)

    @property
    def key(self) -> tuple[datetime, int, int]:
        return (self.at, self.rank, self.id)


@dataclass(frozen=True)
class TimelinePage:
    items: list[TimelineItem]
    next_cursor: str | None


@dataclass(frozen=True)
class Source:
    kind: str
    rank: int
    time_field: str
    queryset: Callable[[Player], QuerySet]
    item: Callable[[object], TimelineItem]


def _deposit(d: Deposit) -> TimelineItem:
    extra = []
    if d.refunded_minor:
        extra.append(f"refunded {money(d.refunded_minor, d.currency)}")
    if d.charged_back_minor:
        extra.append(f"charged back {money(d.charged_back_minor, d.currency)}")
    if d.needs_review:
        extra.append("flagged for review")
    return TimelineItem(
        d.created_at,
        SOURCES_BY_KIND["deposit"].rank,
        d.pk,
        "deposit",
        f"Deposit #{d.pk} via {d.provider}: {d.get_state_display()}",
        ", ".join(extra),
        money(d.amount_minor, d.currency),
        ("admin:wallet_deposit_change", d.pk),
    )


def _withdrawal(w: Withdrawal) -> TimelineItem:
    return TimelineItem(
        w.requested_at,
        SOURCES_BY_KIND["withdrawal"].rank,
        w.pk,
        "withdrawal",
        f"Withdrawal #{w.pk}: {w.get_state_display()}",
        w.rejection_reason,
        money(w.amount_minor, w.currency),
        ("admin:wallet_withdrawal_change", w.pk),
    )


def _adjustment(t: JournalTransaction) -> TimelineItem:
    amount = getattr(t, "player_amount", None)
    return TimelineItem(
        t.created_at,
        SOURCES_BY_KIND["adjustment"].rank,
        t.pk,
        "adjustment",
        f"Ledger adjustment #{t.pk} by {t.actor_label}",
        t.description,
        money(*amount) if amount else "",
        ("admin:wallet_journaltransaction_change", t.pk),
    )


def _note(n: Note) -> TimelineItem:
    pin = " (pinned)" if n.pinned else ""
    return TimelineItem(
        n.created_at,
        SOURCES_BY_KIND["note"].rank,
        n.pk,
        "note",
        f"Note by {n.author_label}{pin}",
        n.body,
        link=("admin:crm_note_change", n.pk),
    )


def _tag(c: PlayerTagChange) -> TimelineItem:
    return TimelineItem(
        c.created_at,
        SOURCES_BY_KIND["tag"].rank,
        c.pk,
        "tag",
        f"Tag {c.tag_name!r} {c.get_action_display().lower()} by {c.actor_label}",
    )


def _account(e: AuditEvent) -> TimelineItem:
    changes = ""
    if e.after:
        changes = ", ".join(f"{k}: {v}" for k, v in e.after.items())
    if e.reason:
        changes = f"{changes} ({e.reason})" if changes else e.reason
    return TimelineItem(
        e.created_at,
        SOURCES_BY_KIND["account"].rank,
        e.pk,
        "account",
        f"{ACCOUNT_EVENTS.get(e.action, e.action)} by {e.actor_label}",
        changes,
    )


def _campaign(s: CampaignSend) -> TimelineItem:
    return TimelineItem(
        s.updated_at,
        SOURCES_BY_KIND["campaign"].rank,
        s.pk,
        "campaign",
        f"Campaign {s.campaign.name!r}: {s.get_status_display()}",
        s.error,
        link=("admin:crm_campaign_change", s.campaign_id),
    )


SOURCES = [
    Source(
        "deposit",
        1,
        "created_at",
        lambda p: Deposit.objects.filter(player=p),
        _deposit,
    ),
    Source(
        "withdrawal",
        2,
        "requested_at",
        lambda p: Withdrawal.objects.filter(player=p),
        _withdrawal,
    ),
    Source(
        "adjustment",
        3,
        "created_at",
        # The adjustment service names the player in the reference, which is indexed.
        lambda p: JournalTransaction.objects.filter(
            tenant_id=p.tenant_id,
            kind=JournalTransaction.Kind.ADJUSTMENT,
            reference=f"adjustment:player:{p.pk}",
        ),
        _adjustment,
    ),
    Source("note", 4, "created_at", lambda p: Note.objects.filter(player=p), _note),
    Source(
        "tag",
        5,
        "created_at",
        lambda p: PlayerTagChange.objects.filter(player=p),
        _tag,
    ),
    Source(
        "account",
        6,
        "created_at",
        lambda p: AuditEvent.objects.filter(
            tenant_id=p.tenant_id,
            target_type=Player._meta.label,
            target_id=str(p.pk),
            action__in=list(ACCOUNT_EVENTS),
        ),
        _account,
    ),
    Source(
        "campaign",
        7,
        "updated_at",
        lambda p: (
            CampaignSend.objects.filter(player=p)
            .exclude(status=CampaignSend.Status.PENDING)
            .select_related("campaign")
        ),
        _campaign,
    ),
]
SOURCES_BY_KIND = {source.kind: source for source in SOURCES}
KINDS = list(SOURCES_BY_KIND)


def encode_cursor(item: TimelineItem) -> str:
    raw = f"{item.at.isoformat()}|{item.rank}|{item.id}"
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[datetime, int, int] | None:
    """None for anything that is not a cursor this module made (first page)."""
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        at_raw, rank, pk = base64.urlsafe_b64decode(padded).decode().split("|")
        at = parse_datetime(at_raw)
        if at is None or at.tzinfo is None:
            return None
        return at, int(rank), int(pk)
    except (ValueError, UnicodeDecodeError):
        return None


def _older_than(source: Source, cursor: tuple[datetime, int, int]) -> Q:
    at, rank, pk = cursor
    t = source.time_field
    if source.rank < rank:
        return Q(**{f"{t}__lte": at})
    if source.rank > rank:
        return Q(**{f"{t}__lt": at})
    return Q(**{f"{t}__lt": at}) | Q(**{t: at, "pk__lt": pk})


def _with_player_amounts(items: list[JournalTransaction], player: Player) -> None:
    """One query for the player's side of the page's adjustments."""
    if not items:
        return
    amounts = {
        e.transaction_id: (e.amount_minor, e.currency)
        for e in Entry.objects.filter(
            tenant_id=player.tenant_id,
            transaction_id__in=[t.pk for t in items],
            account__player=player,
            account__kind="player_available",
        )
    }
    for txn in items:
        txn.player_amount = amounts.get(txn.pk)


def player_timeline(
    *,
    player: Player,
    cursor: str | None = None,
    page_size: int = DEFAULT_PAGE_SIZE,
    kinds: list[str] | None = None,
) -> TimelinePage:
    """One page of the player's timeline, newest first; ``kinds`` narrows sources."""
    page_size = max(1, min(page_size, MAX_PAGE_SIZE))
    position = decode_cursor(cursor) if cursor else None
    streams = []
    for source in SOURCES:
        if kinds and source.kind not in kinds:
            continue
        queryset = source.queryset(player)
        if position is not None:
            queryset = queryset.filter(_older_than(source, position))
        rows = list(queryset.order_by(f"-{source.time_field}", "-pk")[: page_size + 1])
        if source.kind == "adjustment":
            _with_player_amounts(rows, player)
        streams.append([source.item(row) for row in rows])
    merged = list(heapq.merge(*streams, key=lambda item: item.key, reverse=True))
    items = merged[:page_size]
    more = len(merged) > page_size
    return TimelinePage(items, encode_cursor(items[-1]) if more and items else None)
