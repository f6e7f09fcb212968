"""Who is excluded now. Every question goes through ``_active`` so the deposit door,
the play gate and marketing agree on one answer, cross-brand matching included."""

from __future__ import annotations

from datetime import datetime

from django.db.models import Exists, F, OuterRef, Q, QuerySet
from django.db.models.functions import Lower

from casino.models import Player, PlayerExclusion
from common import clock
from tenants.models import Tenant


def _active(now: datetime) -> QuerySet[PlayerExclusion]:
    return PlayerExclusion.objects.filter(started_at__lte=now).filter(
        Q(ends_at__isnull=True) | Q(ends_at__gt=now)
    )


def _covers_sibling_brands(player: Player) -> int | None:
    """The operator id whose brands share exclusions with the player's, if any."""
    operator = player.tenant.operator
    if operator is not None and operator.exclusion_covers_all_brands:
        return operator.pk
    return None


def player_exclusion_active_get(
    *, player: Player, now: datetime | None = None
) -> PlayerExclusion | None:
    """The exclusion that binds ``player`` at ``now`` (policy clock), the one ending
    last first (a permanent one before all): the player's own, or, when the brand's
    operator says exclusions cover all its brands, one the same email set on a
    sibling brand. None when the player is free to play."""
    now = now or clock.now()
    scope = Q(player_id=player.pk)
    operator_id = _covers_sibling_brands(player)
    if operator_id is not None:
        scope |= Q(
            tenant__operator_id=operator_id,
            player__email__iexact=player.email,
        )
    return (
        _active(now)
        .filter(scope)
        .select_related("tenant")
        .order_by(F("ends_at").desc(nulls_first=True), "-id")
        .first()
    )


def player_exclusion_list(*, tenant_id: int, player: Player) -> QuerySet:
    """The player's own exclusions, newest first (admin, API history)."""
    return PlayerExclusion.objects.filter(tenant_id=tenant_id, player=player).order_by(
        "-started_at"
    )


def player_play_allowed(*, player: Player, now: datetime | None = None) -> bool:
    """False while a time-out or self-exclusion binds the player: they may log in to
    the cashier (balance, withdrawals, their limits) but not to play or deposit."""
    return player_exclusion_active_get(player=player, now=now) is None


def player_marketing_blocked(*, player: Player, now: datetime | None = None) -> bool:
    """True while a time-out or self-exclusion binds the player: CRM campaigns and
    every other marketing message must skip them."""
    return player_exclusion_active_get(player=player, now=now) is not None


def player_marketable_filter(
    queryset: QuerySet[Player], *, tenant_id: int, now: datetime | None = None
) -> QuerySet[Player]:
    """``queryset`` (players of ``tenant_id``) without the players a time-out or
    self-exclusion binds now, matched across the operator's brands by email when
    the operator says so. One query with ``NOT EXISTS`` subqueries, for campaigns."""
    now = now or clock.now()
    active = _active(now)
    queryset = queryset.filter(tenant_id=tenant_id).exclude(
        Exists(active.filter(player_id=OuterRef("pk")))
    )
    tenant = Tenant.objects.select_related("operator").get(pk=tenant_id)
    operator = tenant.operator
    if operator is not None and operator.exclusion_covers_all_brands:
        sibling = active.filter(tenant__operator_id=operator.pk).annotate(
            email_lower=Lower("player__email")
        )
        queryset = queryset.annotate(_email_lower=Lower("email")).exclude(
            Exists(sibling.filter(email_lower=OuterRef("_email_lower")))
        )
    return queryset
