"""Setting a time-out or a self-exclusion. Only the player sets one (the actor is
always the player); it takes effect at once and nobody shortens it: a new one is
accepted only when it ends no earlier than the one in force."""

from __future__ import annotations

import calendar
from datetime import datetime, timedelta

from django.db import transaction

from audit.services import audit_record
from casino.exceptions import ExclusionCannotBeShortened, PlayerExcluded
from casino.exclusions.selectors import player_exclusion_active_get
from casino.models import Player, PlayerExclusion
from common import clock
from common.actors import Actor
from common.errors import ValidationFailed

TIME_OUT_MIN_HOURS = 24
TIME_OUT_MAX_HOURS = 6 * 7 * 24  # six weeks
SELF_EXCLUSION_MIN_MONTHS = 6
SELF_EXCLUSION_MAX_MONTHS = 60  # longer than five years: choose permanent

Kind = PlayerExclusion.Kind


def months_later(moment: datetime, months: int) -> datetime:
    """The same wall-clock instant ``months`` calendar months later (31 Aug + 6
    months = 28/29 Feb): an exclusion of six months lasts at least six months."""
    month_index = moment.month - 1 + months
    year = moment.year + month_index // 12
    month = month_index % 12 + 1
    day = min(moment.day, calendar.monthrange(year, month)[1])
    return moment.replace(year=year, month=month, day=day)


def _exclusion_start(
    *, player: Player, kind: str, ends_at: datetime | None, now: datetime
) -> PlayerExclusion:
    """Record an exclusion from ``now``. Locks the player row so two requests are
    judged one after the other; refuses one that would end before the one in force."""
    with transaction.atomic(savepoint=False):
        locked = Player.objects.select_for_update(no_key=True).get(pk=player.pk)
        current = player_exclusion_active_get(player=locked, now=now)
        if current is not None and (
            current.ends_at is None
            or (ends_at is not None and ends_at < current.ends_at)
        ):
            raise ExclusionCannotBeShortened(
                details={
                    "kind": current.kind,
                    "ends_at": current.ends_at.isoformat() if current.ends_at else None,
                    "permanent": current.ends_at is None,
                }
            )
        exclusion = PlayerExclusion.objects.create(
            tenant_id=locked.tenant_id,
            player=locked,
            kind=kind,
            started_at=now,
            ends_at=ends_at,
        )
        audit_record(
            actor=Actor.for_player(locked),
            action=f"player.{kind}_started",
            tenant_id=locked.tenant_id,
            target=locked,
            after={
                "exclusion_id": exclusion.pk,
                "kind": kind,
                "started_at": now.isoformat(),
                "ends_at": ends_at.isoformat() if ends_at else None,
            },
        )
    return exclusion


def player_time_out_start(*, player: Player, hours: int) -> PlayerExclusion:
    """A time-out of ``hours`` (24 hours to six weeks), in force at once."""
    if type(hours) is not int or not TIME_OUT_MIN_HOURS <= hours <= TIME_OUT_MAX_HOURS:
        raise ValidationFailed(
            "A time-out lasts from 24 hours to six weeks.",
            details={
                "fields": {
                    "hours": [f"between {TIME_OUT_MIN_HOURS} and {TIME_OUT_MAX_HOURS}"]
                }
            },
        )
    now = clock.now()
    return _exclusion_start(
        player=player,
        kind=Kind.TIME_OUT,
        ends_at=now + timedelta(hours=hours),
        now=now,
    )


def player_self_exclusion_start(
    *, player: Player, months: int | None = None, permanent: bool = False
) -> PlayerExclusion:
    """A self-exclusion of at least six months, or permanent, in force at once."""
    if permanent == (months is not None):
        raise ValidationFailed(
            "Choose a number of months or permanent, not both.",
            details={"fields": {"months": ["give months or permanent=true"]}},
        )
    if not permanent and (
        type(months) is not int
        or not SELF_EXCLUSION_MIN_MONTHS <= months <= SELF_EXCLUSION_MAX_MONTHS
    ):
        raise ValidationFailed(
            "A self-exclusion lasts at least six months.",
            details={
                "fields": {
                    "months": [
                        f"between {SELF_EXCLUSION_MIN_MONTHS} and "
                        f"{SELF_EXCLUSION_MAX_MONTHS}, or permanent"
                    ]
                }
            },
        )
    now = clock.now()
    return _exclusion_start(
        player=player,
        kind=Kind.SELF_EXCLUSION,
        ends_at=None if permanent else months_later(now, months),
        now=now,
    )


def player_play_access_check(*, player: Player) -> None:
    """Raise ``PlayerExcluded`` while a time-out or self-exclusion binds the player.
    The gate every door that lets a player deposit or start play calls."""
    exclusion = player_exclusion_active_get(player=player)
    if exclusion is not None:
        raise PlayerExcluded(details=exclusion_details(exclusion))


def exclusion_details(exclusion: PlayerExclusion) -> dict:
    return {
        "kind": exclusion.kind,
        "started_at": exclusion.started_at.isoformat(),
        "ends_at": exclusion.ends_at.isoformat() if exclusion.ends_at else None,
        "permanent": exclusion.ends_at is None,
        "withdrawals_allowed": True,
    }
