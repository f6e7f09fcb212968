"""CRM reads, always for one brand (``tenant=``). Admin, API and commands share them."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from django.db.models import Q, QuerySet
from django.db.models.functions import Lower

from casino.models import Player
from common import clock
from crm.models import (
    Campaign,
    CampaignSend,
    Consent,
    Note,
    Segment,
    SegmentMembership,
    Tag,
)
from payments.models import Dispute
from tenants.models import Tenant
from wallet.models import Deposit, PayoutAttempt, Withdrawal

#: Counts on the admin index stop here ("1000+"): a dashboard never scans a table.
ATTENTION_COUNT_CAP = 1000

#: Dispute stages that still need the operator (evidence, a decision pending).
OPEN_DISPUTE_STAGES = (
    Dispute.Stage.NOTIFICATION_OF_CHARGEBACK,
    Dispute.Stage.CHARGEBACK,
    Dispute.Stage.SECOND_CHARGEBACK,
)


def player_search(
    *, tenant: Tenant, query: str = "", tag: str = "", segment_id: int | None = None
) -> QuerySet[Player]:
    """A number is a player id, a full e-mail matches exactly (the unique lower(email)
    index), anything else is an e-mail prefix; tag and segment narrow further."""
    players = Player.objects.filter(tenant=tenant)
    term = query.strip()
    if term.isdigit():
        players = players.filter(pk=int(term))
    elif "@" in term:
        players = players.alias(email_lower=Lower("email")).filter(
            email_lower=term.lower()
        )
    elif term:
        players = players.filter(email__istartswith=term)
    if tag:
        players = players.filter(crm_tags__tag__name__iexact=tag.strip())
    if segment_id is not None:
        players = players.filter(crm_segments__segment_id=segment_id)
    return players.order_by("-pk")


def player_get(*, tenant: Tenant, player_id: int) -> Player | None:
    return Player.objects.filter(tenant=tenant, pk=player_id).first()


def tag_list(*, tenant: Tenant) -> QuerySet[Tag]:
    return Tag.objects.filter(tenant=tenant).order_by("name")


def tag_get(*, tenant: Tenant, tag_id: int) -> Tag | None:
    return Tag.objects.filter(tenant=tenant, pk=tag_id).first()


def player_tag_names(*, player: Player) -> list[str]:
    return list(
        player.crm_tags.filter(tenant_id=player.tenant_id)
        .order_by("tag__name")
        .values_list("tag__name", flat=True)
    )


def note_list(*, tenant: Tenant, player: Player) -> QuerySet[Note]:
    """Pinned first, then newest first."""
    return Note.objects.filter(tenant=tenant, player=player).order_by(
        "-pinned", "-created_at", "-id"
    )


def note_get(*, tenant: Tenant, note_id: int) -> Note | None:
    return Note.objects.filter(tenant=tenant, pk=note_id).first()


def consent_list(*, player: Player) -> dict[str, Consent]:
    return {
        c.channel: c
        for c in Consent.objects.filter(tenant_id=player.tenant_id, player=player)
    }


def segment_list(*, tenant: Tenant) -> QuerySet[Segment]:
    return Segment.objects.filter(tenant=tenant).order_by("name")


def segment_get(*, tenant: Tenant, segment_id: int) -> Segment | None:
    return Segment.objects.filter(tenant=tenant, pk=segment_id).first()


def player_segment_names(*, player: Player) -> list[str]:
    return list(
        SegmentMembership.objects.filter(tenant_id=player.tenant_id, player=player)
        .order_by("segment__name")
        .values_list("segment__name", flat=True)
    )


def campaign_list(*, tenant: Tenant) -> QuerySet[Campaign]:
    return Campaign.objects.filter(tenant=tenant).select_related("segment")


def campaign_get(*, tenant: Tenant, campaign_id: int) -> Campaign | None:
    return (
        Campaign.objects.filter(tenant=tenant, pk=campaign_id)
        .select_related("segment", "tenant")
        .first()
    )


def campaign_send_counts(*, campaign: Campaign) -> dict[str, int]:
    """Sends per status (served by the (campaign, status) index)."""
    counts = {status: 0 for status in CampaignSend.Status.values}
    for status in CampaignSend.Status.values:
        counts[status] = CampaignSend.objects.filter(
            campaign=campaign, status=status
        ).count()
    return counts


# --- the admin index: what needs attention today ----------------------------------


@dataclass(frozen=True)
class Capped:
    count: int
    capped: bool

    def __str__(self) -> str:
        return f"{self.count}+" if self.capped else str(self.count)


def _capped(queryset: QuerySet) -> Capped:
    count = queryset[: ATTENTION_COUNT_CAP + 1].count()
    return Capped(min(count, ATTENTION_COUNT_CAP), count > ATTENTION_COUNT_CAP)


@dataclass(frozen=True)
class Attention:
    withdrawals_by_age: list[tuple[str, Capped]]
    oldest_withdrawal: Withdrawal | None
    flagged_deposits: Capped
    open_disputes: Capped
    payouts_failed: Capped
    payouts_unknown: Capped


WITHDRAWAL_AGE_BUCKETS = [
    ("under 1 hour", None, timedelta(hours=1)),
    ("1 to 24 hours", timedelta(hours=1), timedelta(hours=24)),
    ("over 24 hours", timedelta(hours=24), None),
]


def attention_today(*, tenant_ids: list[int] | None) -> Attention:
    """The admin index's first panel, for the operator's brands (None: all)."""
    scope = Q() if tenant_ids is None else Q(tenant_id__in=tenant_ids)
    now = clock.now()
    waiting = Withdrawal.objects.filter(scope, state=Withdrawal.State.REQUESTED)
    buckets = []
    for label, min_age, max_age in WITHDRAWAL_AGE_BUCKETS:
        rows = waiting
        if min_age is not None:
            rows = rows.filter(requested_at__lte=now - min_age)
        if max_age is not None:
            rows = rows.filter(requested_at__gt=now - max_age)
        buckets.append((label, _capped(rows)))
    return Attention(
        withdrawals_by_age=buckets,
        oldest_withdrawal=waiting.select_related("tenant")
        .order_by("requested_at")
        .first(),
        flagged_deposits=_capped(Deposit.objects.filter(scope, needs_review=True)),
        open_disputes=_capped(
            Dispute.objects.filter(scope, stage__in=OPEN_DISPUTE_STAGES)
        ),
        payouts_failed=_capped(
            Withdrawal.objects.filter(scope, state=Withdrawal.State.PAYOUT_FAILED)
        ),
        payouts_unknown=_capped(
            PayoutAttempt.objects.filter(scope, state=PayoutAttempt.State.UNKNOWN)
        ),
    )
