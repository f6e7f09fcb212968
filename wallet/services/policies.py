"""Tenant policy checks for money movements: amount bounds, daily limits, velocity,
auto-approval. They read the policy under the caller's locks and fail closed."""

from __future__ import annotations

import logging
import math
from datetime import timedelta

from django.db import transaction
from django.db.models import Sum

from casino.exceptions import PlayerBlocked
from casino.models import Player
from common import clock
from common.currency import exponent_of
from common.errors import ValidationFailed
from tenants.exceptions import CurrencyNotAllowed, ModuleTemporarilyDisabled
from tenants.policies import InvalidPolicyValue, policy_amount
from tenants.services import tenant_policy_get
from wallet.compliance.deposit_limits import deposit_gate_check
from wallet.exceptions import (
    KycRequiredForWithdrawal,
    LimitExceeded,
    VelocityLimitExceeded,
    WithdrawalAmountAboveMaximum,
    WithdrawalAmountBelowMinimum,
    WithdrawalsFrozen,
)
from wallet.models import (
    Account,
    Entry,
    JournalTransaction,
    Withdrawal,
)

logger = logging.getLogger(__name__)

W = Withdrawal.State

Kind = JournalTransaction.Kind


def _policy_amount_or_fail_closed(policy, field: str, currency: str) -> int | None:
    try:
        return policy_amount(policy, field, currency)
    except InvalidPolicyValue:
        # A broken limit refuses rather than lets money through.
        raise ModuleTemporarilyDisabled(
            "Withdrawals are paused: the brand's policy needs attention.",
            details={"module": "withdrawals", "policy_field": field},
        ) from None


def withdrawal_amount_bounds_check(*, policy, currency: str, amount_minor: int) -> None:
    minimum = _policy_amount_or_fail_closed(policy, "withdrawal_min_amounts", currency)
    if minimum is not None and amount_minor < minimum:
        raise WithdrawalAmountBelowMinimum(
            details={
                "minimum": minimum,
                "attempted": amount_minor,
                "currency": currency,
            }
        )
    maximum = _policy_amount_or_fail_closed(policy, "withdrawal_max_amounts", currency)
    if maximum is not None and amount_minor > maximum:
        raise WithdrawalAmountAboveMaximum(
            details={
                "maximum": maximum,
                "attempted": amount_minor,
                "currency": currency,
            }
        )


def withdrawal_velocity_check(*, policy, player: Player, now) -> None:
    max_requests = policy.withdrawal_velocity_max_requests
    if max_requests is None:
        return
    window = policy.withdrawal_velocity_window_seconds or 1
    recent = list(
        Withdrawal.objects.filter(
            tenant_id=player.tenant_id,
            player=player,
            requested_at__gt=now - timedelta(seconds=window),
        )
        .order_by("requested_at")
        .values_list("requested_at", flat=True)
    )
    if len(recent) < max_requests:
        return
    if recent:
        # When the oldest request that still counts drops out of the window.
        frees_at = recent[len(recent) - max_requests] + timedelta(seconds=window)
        retry_after = math.ceil((frees_at - now).total_seconds())
    else:
        retry_after = window
    raise VelocityLimitExceeded(
        retry_after=retry_after,
        details={
            "max_requests": max_requests,
            "window_seconds": window,
            "used": len(recent),
        },
    )


def _limit_check(
    *, limit: int | None, used: int, amount_minor: int, currency: str, kind: str
) -> None:
    if limit is None or used + amount_minor <= limit:
        return
    raise LimitExceeded(
        f"This {kind} exceeds the daily limit.",
        details={
            "limit": limit,
            "used": used,
            "attempted": amount_minor,
            "remaining": max(0, limit - used),
            "currency": currency,
            "period": "day",
            "kind": f"daily_{kind}",
        },
    )


def withdrawal_daily_limit_check(
    *, policy, player: Player, currency: str, amount_minor: int, now
) -> None:
    limit = _policy_amount_or_fail_closed(policy, "daily_withdrawal_limits", currency)
    if limit is None:
        return
    used = (
        Withdrawal.objects.filter(
            tenant_id=player.tenant_id,
            player=player,
            currency=currency,
            requested_at__gte=clock.start_of_day(now),
        )
        .exclude(state__in=[W.REJECTED, W.CANCELED])
        .aggregate(total=Sum("amount_minor"))["total"]
        or 0
    )
    _limit_check(
        limit=limit,
        used=used,
        amount_minor=amount_minor,
        currency=currency,
        kind="withdrawal",
    )


def withdrawal_auto_approvable(*, policy, currency: str, amount_minor: int) -> bool:
    """Strictly below the tenant's threshold. Missing or broken → manual review."""
    try:
        threshold = policy_amount(policy, "auto_approve_thresholds", currency)
    except InvalidPolicyValue:
        return False
    return threshold is not None and amount_minor < threshold


def deposit_limit_check(
    *, player: Player, currency: str, amount_minor: int, pending_minor: int = 0
) -> None:
    """Refuse a deposit that would take the player past the tenant's daily deposit
    limit in ``currency`` (``LimitExceeded``, 422). Counts deposits credited to the
    player today (UTC, policy clock) plus ``pending_minor`` (deposits started but not
    yet credited, which the caller knows). Takes the player row lock so concurrent
    deposit starts are checked one after the other: call it inside the transaction
    that records the deposit."""
    with transaction.atomic(savepoint=False):
        locked = Player.objects.select_for_update(no_key=True).get(pk=player.pk)
        policy = tenant_policy_get(tenant=locked.tenant)
        try:
            limit = policy_amount(policy, "daily_deposit_limits", currency)
        except InvalidPolicyValue:
            raise ModuleTemporarilyDisabled(
                "Deposits are paused: the brand's policy needs attention.",
                details={"module": "deposits", "policy_field": "daily_deposit_limits"},
            ) from None
        if limit is None:
            return
        credited = (
            Entry.objects.filter(
                tenant_id=locked.tenant_id,
                account__player=locked,
                account__kind=Account.Kind.PLAYER_AVAILABLE,
                currency=currency,
                transaction__kind=Kind.DEPOSIT,
                created_at__gte=clock.start_of_day(),
            ).aggregate(total=Sum("amount_minor"))["total"]
            or 0
        )
        _limit_check(
            limit=limit,
            used=credited + pending_minor,
            amount_minor=amount_minor,
            currency=currency,
            kind="deposit",
        )


# --- the one place each money movement checks its policies ---------------------------
# Deposit start and withdrawal request each call one function below, under the
# player row lock, and nothing else checks these rules. A new gate (responsible
# gambling, ...) is added here, once.


def _player_may_move_money(*, player: Player, tenant, currency: str) -> None:
    if not player.is_active:
        raise PlayerBlocked()
    exponent_of(currency)
    if not tenant.currency_allowed(currency):
        raise CurrencyNotAllowed(details={"currency": currency})


def deposit_policy_check(
    *, player: Player, currency: str, amount_minor: int, pending_minor: int = 0
) -> None:
    """Everything that may refuse a new deposit, in order: the player is blocked
    (``PLAYER_BLOCKED``), the deposits kill switch (``MODULE_TEMPORARILY_DISABLED``),
    the brand does not take the currency (``CURRENCY_NOT_ALLOWED``), the daily limit
    (``LIMIT_EXCEEDED``, see ``deposit_limit_check``). Call it under the player row
    lock, where the deposit row is created."""
    _player_may_move_money(player=player, tenant=player.tenant, currency=currency)
    if not tenant_policy_get(tenant=player.tenant).deposits_enabled:
        raise ModuleTemporarilyDisabled(details={"module": "deposits"})
    deposit_limit_check(
        player=player,
        currency=currency,
        amount_minor=amount_minor,
        pending_minor=pending_minor,
    )
    # Issue 13: exclusions and the player's own limits, under the same lock.
    deposit_gate_check(player=player, currency=currency, amount_minor=amount_minor)


def withdrawal_policy_check(
    *, player: Player, policy, currency: str, amount_minor: int, now
) -> None:
    """Everything that may refuse a new withdrawal, in order: the player is blocked,
    the withdrawals kill switch, a freeze (open dispute), KYC, the brand does not
    take the currency, a non-positive amount, the amount bounds, velocity, the daily
    limit. ``player`` is the locked player row."""
    _player_may_move_money(player=player, tenant=player.tenant, currency=currency)
    if not policy.withdrawals_enabled:
        raise ModuleTemporarilyDisabled(details={"module": "withdrawals"})
    if player.withdrawals_frozen:
        raise WithdrawalsFrozen()
    if (
        policy.kyc_required_for_withdrawal
        and player.kyc_status != Player.KycStatus.VERIFIED
    ):
        raise KycRequiredForWithdrawal(details={"kyc_status": player.kyc_status})
    if type(amount_minor) is not int or amount_minor <= 0:
        raise ValidationFailed(
            "The amount must be positive.",
            details={"fields": {"amount": ["must be greater than zero"]}},
        )
    withdrawal_amount_bounds_check(
        policy=policy, currency=currency, amount_minor=amount_minor
    )
    withdrawal_velocity_check(policy=policy, player=player, now=now)
    withdrawal_daily_limit_check(
        policy=policy,
        player=player,
        currency=currency,
        amount_minor=amount_minor,
        now=now,
    )
