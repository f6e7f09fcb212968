"""Deposit limits the player sets on themselves (UKGC RTS 12).

Per currency and per calendar period (UTC day, ISO week from Monday, month). A
lower limit applies at once; a higher one or a removal is parked for 24 hours and
applies only when the player confirms it after that. Operators have no write path
here at all: every service takes the player and acts as the player."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db import transaction
from django.db.models import Sum

from audit.services import audit_record
from casino.exclusions.services import player_play_access_check
from casino.models import Player
from common import clock
from common.actors import Actor
from common.currency import exponent_of
from common.errors import ValidationFailed
from wallet.exceptions import (
    DepositLimitCoolingOff,
    DepositLimitNoPendingChange,
    PlayerDepositLimitExceeded,
)
from wallet.models import Deposit, PlayerDepositLimit

COOLING_OFF = timedelta(hours=24)
Period = PlayerDepositLimit.Period
# Deposits that count against a limit: started and not closed unpaid.
_COUNTED_STATES = [
    Deposit.State.CREATED,
    Deposit.State.PENDING_PROVIDER,
    Deposit.State.COMPLETED,
]


def period_bounds(period: str, now: datetime) -> tuple[datetime, datetime]:
    """``(start, reset)`` of the calendar period containing ``now`` (UTC)."""
    day = clock.start_of_day(now)
    if period == Period.DAY:
        return day, day + timedelta(days=1)
    if period == Period.WEEK:
        start = day - timedelta(days=day.weekday())
        return start, start + timedelta(days=7)
    if period == Period.MONTH:
        start = day.replace(day=1)
        reset = (start + timedelta(days=32)).replace(day=1)
        return start, reset
    raise ValueError(period)


def _deposited_since(*, player: Player, currency: str, since: datetime) -> int:
    return (
        Deposit.objects.filter(
            tenant_id=player.tenant_id,
            player=player,
            currency=currency,
            state__in=_COUNTED_STATES,
            created_at__gte=since,
        ).aggregate(total=Sum("amount_minor"))["total"]
        or 0
    )


@dataclass(frozen=True)
class LimitUsage:
    limit: PlayerDepositLimit
    used_minor: int
    remaining_minor: int | None
    resets_at: datetime


def deposit_limit_usage_get(
    *, player: Player, currency: str, period: str, now: datetime | None = None
) -> LimitUsage:
    """One limit with its use this period; an unsaved "no limit" when none is set."""
    now = now or clock.now()
    limit = PlayerDepositLimit.objects.filter(
        tenant_id=player.tenant_id, player=player, currency=currency, period=period
    ).first() or PlayerDepositLimit(
        tenant_id=player.tenant_id, player=player, currency=currency, period=period
    )
    start, reset = period_bounds(period, now)
    used = _deposited_since(player=player, currency=currency, since=start)
    remaining = (
        None if limit.amount_minor is None else max(0, limit.amount_minor - used)
    )
    return LimitUsage(limit, used, remaining, reset)


def deposit_limit_usage_list(
    *, player: Player, currency: str | None = None, now: datetime | None = None
) -> list[LimitUsage]:
    """The player's limits with what this period used and has left."""
    now = now or clock.now()
    limits = PlayerDepositLimit.objects.filter(
        tenant_id=player.tenant_id, player=player
    )
    if currency is not None:
        limits = limits.filter(currency=currency)
    usage = []
    for limit in limits:
        start, reset = period_bounds(limit.period, now)
        used = _deposited_since(player=player, currency=limit.currency, since=start)
        remaining = (
            None if limit.amount_minor is None else max(0, limit.amount_minor - used)
        )
        usage.append(LimitUsage(limit, used, remaining, reset))
    return usage


def player_deposit_limit_check(
    *, player: Player, currency: str, amount_minor: int
) -> None:
    """Refuse a deposit that would take the player past a limit they set
    (``PlayerDepositLimitExceeded`` with the remaining amount and when it resets).
    A deposit that reaches a limit exactly is allowed. Takes the player row lock,
    the lock the tenant's daily limit is checked under, so concurrent deposits
    are counted one after the other: call it inside the transaction that records
    the deposit."""
    with transaction.atomic(savepoint=False):
        locked = Player.objects.select_for_update(no_key=True).get(pk=player.pk)
        exceeded = [
            usage
            for usage in deposit_limit_usage_list(player=locked, currency=currency)
            if usage.remaining_minor is not None
            and amount_minor > usage.remaining_minor
        ]
        if not exceeded:
            return
        # The tightest limit answers; on a tie the one that resets last.
        worst = min(
            exceeded, key=lambda u: (u.remaining_minor, -u.resets_at.timestamp())
        )
        raise PlayerDepositLimitExceeded(
            details={
                "currency": currency,
                "period": worst.limit.period,
                "limit": worst.limit.amount_minor,
                "used": worst.used_minor,
                "remaining": worst.remaining_minor,
                "attempted": amount_minor,
                "resets_at": worst.resets_at.isoformat(),
                "exceeded": [
                    {
                        "period": u.limit.period,
                        "limit": u.limit.amount_minor,
                        "remaining": u.remaining_minor,
                        "resets_at": u.resets_at.isoformat(),
                    }
                    for u in exceeded
                ],
            }
        )


def deposit_gate_check(*, player: Player, currency: str, amount_minor: int) -> None:
    """The one responsible-gambling hook of the deposit flow: a time-out or
    self-exclusion refuses (``PlayerExcluded``), then the player's own limits
    (``PlayerDepositLimitExceeded``). Locks the player row; call it where the
    deposit row is created, next to the tenant's policy checks."""
    player_play_access_check(player=player)
    player_deposit_limit_check(
        player=player, currency=currency, amount_minor=amount_minor
    )


def _validate(*, currency: str, period: str, amount_minor: int | None) -> None:
    exponent_of(currency)
    if period not in Period.values:
        raise ValidationFailed(
            details={"fields": {"period": [f"one of {', '.join(Period.values)}"]}}
        )
    if amount_minor is not None and (type(amount_minor) is not int or amount_minor < 0):
        raise ValidationFailed(
            details={"fields": {"amount": ["a whole number of minor units >= 0"]}}
        )


def _audit(*, player, limit, action, before, after) -> None:
    audit_record(
        actor=Actor.for_player(player),
        action=action,
        tenant_id=player.tenant_id,
        target=player,
        before=before,
        after={**after, "currency": limit.currency, "period": limit.period},
    )


def player_deposit_limit_set(
    *, player: Player, currency: str, period: str, amount_minor: int | None
) -> PlayerDepositLimit:
    """The player asks for a limit (``None`` = remove it). No limit yet, or a lower
    one: in force at once, and any parked increase is dropped. A higher limit or a
    removal: parked until 24 hours from now and applied only by
    ``player_deposit_limit_confirm``. Locks the player row."""
    _validate(currency=currency, period=period, amount_minor=amount_minor)
    now = clock.now()
    with transaction.atomic(savepoint=False):
        locked = Player.objects.select_for_update(no_key=True).get(pk=player.pk)
        limit = PlayerDepositLimit.objects.filter(
            player=locked, currency=currency, period=period
        ).first()
        if limit is None:
            if amount_minor is None:  # removing a limit that is not there
                return PlayerDepositLimit(
                    tenant_id=locked.tenant_id,
                    player=locked,
                    currency=currency,
                    period=period,
                    updated_at=now,
                )
            limit = PlayerDepositLimit(
                tenant_id=locked.tenant_id,
                player=locked,
                currency=currency,
                period=period,
                updated_at=now,
            )
        before = {
            "amount_minor": limit.amount_minor,
            "pending_amount_minor": limit.pending_amount_minor,
            "pending_removal": limit.pending_removal,
        }
        current = limit.amount_minor
        tighter = amount_minor is not None and (
            current is None or amount_minor <= current
        )
        if tighter:
            limit.amount_minor = amount_minor
            limit.pending_amount_minor = None
            limit.pending_removal = False
            limit.pending_requested_at = None
            limit.pending_available_at = None
            action = "player.deposit_limit_set"
        elif current is None:  # removing a limit already removed
            return limit
        else:
            limit.pending_amount_minor = amount_minor
            limit.pending_removal = amount_minor is None
            limit.pending_requested_at = now
            limit.pending_available_at = now + COOLING_OFF
            action = "player.deposit_limit_increase_requested"
        limit.updated_at = now
        limit.save()
        _audit(
            player=locked,
            limit=limit,
            action=action,
            before=before,
            after={
                "amount_minor": limit.amount_minor,
                "pending_amount_minor": limit.pending_amount_minor,
                "pending_removal": limit.pending_removal,
                "pending_available_at": limit.pending_available_at.isoformat()
                if limit.pending_available_at
                else None,
            },
        )
    return limit


def player_deposit_limit_confirm(
    *, player: Player, currency: str, period: str
) -> PlayerDepositLimit:
    """The player's fresh confirmation of a parked increase or removal, accepted
    from the instant the cooling-off ends (``DepositLimitCoolingOff`` before,
    ``DepositLimitNoPendingChange`` without one). Locks the player row."""
    _validate(currency=currency, period=period, amount_minor=None)
    now = clock.now()
    with transaction.atomic(savepoint=False):
        locked = Player.objects.select_for_update(no_key=True).get(pk=player.pk)
        limit = PlayerDepositLimit.objects.filter(
            player=locked, currency=currency, period=period
        ).first()
        if limit is None or not limit.has_pending_change:
            raise DepositLimitNoPendingChange(
                details={"currency": currency, "period": period}
            )
        if now < limit.pending_available_at:
            raise DepositLimitCoolingOff(
                retry_after=(limit.pending_available_at - now).total_seconds() + 0.999,
                details={
                    "currency": currency,
                    "period": period,
                    "available_at": limit.pending_available_at.isoformat(),
                },
            )
        before = {"amount_minor": limit.amount_minor}
        limit.amount_minor = (
            None if limit.pending_removal else limit.pending_amount_minor
        )
        limit.pending_amount_minor = None
        limit.pending_removal = False
        limit.pending_requested_at = None
        limit.pending_available_at = None
        limit.updated_at = now
        limit.save()
        _audit(
            player=locked,
            limit=limit,
            action="player.deposit_limit_increase_confirmed",
            before=before,
            after={"amount_minor": limit.amount_minor},
        )
    return limit
