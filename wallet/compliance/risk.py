"""AML thresholds, risk flags, and why a withdrawal must wait for an operator.

Flags decide, they do not decorate: ``withdrawal_review_reasons`` is what the
withdrawal request asks before auto-approving and what the review page shows, so
the two cannot disagree. Anything unreadable (a broken threshold) is a reason too:
the rules fail closed."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from django.db import IntegrityError, transaction
from django.db.models import F, Max, Sum

from audit.services import audit_record
from casino.models import Player
from common import clock
from common.actors import Actor
from common.currency import format_money, to_major
from common.errors import ValidationFailed
from common.names import names_match
from tenants.policies import InvalidPolicyValue, policy_amount
from tenants.services import tenant_policy_get
from wallet.models import (
    Account,
    Deposit,
    Entry,
    JournalTransaction,
    PlayerRiskFlag,
    Withdrawal,
)

logger = logging.getLogger(__name__)

Flag = PlayerRiskFlag.Kind
AFFORDABILITY_WINDOW = timedelta(days=30)
YOUNG_ACCOUNT = timedelta(days=7)
RECENT_WITHDRAWALS_WINDOW = timedelta(hours=24)
RECENT_WITHDRAWALS_MAX = 3
# Closed loop (payments/withdrawals/closed_loop.py): deposits this recent can still be refunded.
CLOSED_LOOP_REFUND_WINDOW = timedelta(days=180)


def _deposits_credited_since(*, player: Player, currency: str, since) -> int:
    """Deposits credited to the player's cash account since ``since`` (ledger)."""
    return (
        Entry.objects.filter(
            tenant_id=player.tenant_id,
            account__player=player,
            account__kind=Account.Kind.PLAYER_AVAILABLE,
            currency=currency,
            transaction__kind=JournalTransaction.Kind.DEPOSIT,
            created_at__gte=since,
        ).aggregate(total=Sum("amount_minor"))["total"]
        or 0
    )


def _withdrawals_paid_since(*, player: Player, currency: str, since) -> int:
    return (
        Withdrawal.objects.filter(
            tenant_id=player.tenant_id,
            player=player,
            currency=currency,
            state=Withdrawal.State.PAID,
            requested_at__gte=since,
        ).aggregate(total=Sum("amount_minor"))["total"]
        or 0
    )


def _last_cleared(*, player: Player, kind: str, currency: str) -> datetime | None:
    return PlayerRiskFlag.objects.filter(
        player=player, kind=kind, currency=currency, cleared_at__isnull=False
    ).aggregate(last=Max("cleared_at"))["last"]


def _window_start(*, player, kind, currency, now, window) -> datetime:
    """The rolling window, but never before the last cleared flag of the kind: the
    operator's checks covered what came before."""
    start = now - window
    cleared = _last_cleared(player=player, kind=kind, currency=currency)
    return max(start, cleared) if cleared else start


def _flag_raise(
    *, player, kind, currency, reason, details, now
) -> PlayerRiskFlag | None:
    """Open a flag unless one of the kind is open; audited. Safe under concurrency:
    a partial unique constraint keeps one open flag per kind and currency."""
    if PlayerRiskFlag.objects.filter(
        player=player, kind=kind, currency=currency, cleared_at__isnull=True
    ).exists():
        return None
    try:
        with transaction.atomic():
            flag = PlayerRiskFlag.objects.create(
                tenant_id=player.tenant_id,
                player=player,
                kind=kind,
                currency=currency,
                reason=reason,
                details=details,
                raised_at=now,
            )
    except IntegrityError:  # a concurrent evaluation raised it first
        return None
    audit_record(
        actor=Actor.system("aml"),
        action="player.risk_flag_raised",
        tenant_id=player.tenant_id,
        target=player,
        after={"flag_id": flag.pk, "kind": kind, "currency": currency, **details},
        reason=reason,
    )
    logger.info("risk_flag.raised", extra={"player_id": player.pk, "kind": kind})
    return flag


def aml_thresholds_evaluate(
    *, player: Player, currency: str, now: datetime | None = None
) -> list[PlayerRiskFlag]:
    """Raise the due-diligence flag when the player's deposits in the tenant's
    rolling window reach its CDD threshold, and the affordability flag when net
    deposits (deposits minus paid withdrawals) over 30 days reach its affordability
    threshold. Returns the flags it opened. Called after a deposit is credited and
    again when a withdrawal is decided. A broken threshold raises
    ``InvalidPolicyValue`` for the caller to fail closed on."""
    now = now or clock.now()
    policy = tenant_policy_get(tenant=player.tenant)
    raised = []
    cdd = policy_amount(policy, "aml_cdd_thresholds", currency)
    if cdd is not None:
        window = timedelta(days=policy.aml_cdd_window_days or 1)
        since = _window_start(
            player=player,
            kind=Flag.DUE_DILIGENCE,
            currency=currency,
            now=now,
            window=window,
        )
        deposited = _deposits_credited_since(
            player=player, currency=currency, since=since
        )
        if deposited >= cdd:
            raised.append(
                _flag_raise(
                    player=player,
                    kind=Flag.DUE_DILIGENCE,
                    currency=currency,
                    reason=(
                        f"Deposits of {format_money(deposited, currency)} in "
                        f"{window.days} days reached the due-diligence threshold of "
                        f"{format_money(cdd, currency)}."
                    ),
                    details={
                        "deposited_minor": deposited,
                        "threshold_minor": cdd,
                        "window_days": window.days,
                    },
                    now=now,
                )
            )
    affordability = policy_amount(policy, "affordability_thresholds", currency)
    if affordability is not None:
        since = _window_start(
            player=player,
            kind=Flag.AFFORDABILITY,
            currency=currency,
            now=now,
            window=AFFORDABILITY_WINDOW,
        )
        net = _deposits_credited_since(
            player=player, currency=currency, since=since
        ) - _withdrawals_paid_since(player=player, currency=currency, since=since)
        if net >= affordability:
            raised.append(
                _flag_raise(
                    player=player,
                    kind=Flag.AFFORDABILITY,
                    currency=currency,
                    reason=(
                        f"Net deposits of {format_money(net, currency)} in 30 "
                        f"days reached the affordability threshold of "
                        f"{format_money(affordability, currency)}."
                    ),
                    details={
                        "net_deposits_minor": net,
                        "threshold_minor": affordability,
                    },
                    now=now,
                )
            )
    return [flag for flag in raised if flag is not None]


def risk_flag_clear(
    *, flag: PlayerRiskFlag, actor: Actor, reason: str
) -> PlayerRiskFlag:
    """An operator closes a flag after the checks, with a reason; audited with their
    name. Locks the flag row; clearing a cleared flag changes nothing."""
    if not reason.strip():
        raise ValidationFailed(
            "A reason is required.", details={"fields": {"reason": ["required"]}}
        )
    with transaction.atomic(savepoint=False):
        locked = PlayerRiskFlag.objects.select_for_update(no_key=True).get(pk=flag.pk)
        if locked.cleared_at is not None:
            return locked
        locked.cleared_at = clock.now()
        locked.cleared_by_id = actor.user_id
        locked.clear_reason = reason.strip()
        locked.save(update_fields=["cleared_at", "cleared_by", "clear_reason"])
        audit_record(
            actor=actor,
            action="player.risk_flag_cleared",
            tenant_id=locked.tenant_id,
            target=locked.player,
            before={"flag_id": locked.pk, "kind": locked.kind, "open": True},
            after={"flag_id": locked.pk, "kind": locked.kind, "open": False},
            reason=locked.clear_reason,
        )
    return locked


def maker_checker_required(*, policy, currency: str, amount_minor: int) -> bool:
    """Strictly above the tenant's maker-checker amount. A broken value → required."""
    try:
        threshold = policy_amount(policy, "maker_checker_thresholds", currency)
    except InvalidPolicyValue:
        return True
    return threshold is not None and amount_minor > threshold


def withdrawal_review_reasons(
    *,
    player: Player,
    currency: str,
    amount_minor: int,
    holder_name: str | None = None,
    now: datetime | None = None,
    evaluate: bool = True,
) -> list[str]:
    """Why a withdrawal of ``amount_minor`` must wait for an operator; empty when
    nothing speaks against auto-approval. ``evaluate`` first brings the AML flags
    up to date (the withdrawal request does, under the player lock); the review
    page reads without writing. The one risk hook of the withdrawal flow."""
    now = now or clock.now()
    policy = tenant_policy_get(tenant=player.tenant)
    reasons = []
    if evaluate:
        try:
            aml_thresholds_evaluate(player=player, currency=currency, now=now)
        except InvalidPolicyValue as broken:
            reasons.append(f"The brand's AML threshold {broken} is broken.")
    for flag in PlayerRiskFlag.objects.filter(player=player, cleared_at__isnull=True):
        reasons.append(f"Open risk flag: {flag.reason}")
    if player.withdrawals_frozen:
        reasons.append("Withdrawals frozen on this player (e.g. after a chargeback).")
    if not player.is_active:
        reasons.append("Player account is blocked.")
    if player.kyc_status != Player.KycStatus.VERIFIED:
        reasons.append(f"KYC is {player.get_kyc_status_display().lower()}.")
    if now - player.created_at < YOUNG_ACCOUNT:
        reasons.append("Account younger than 7 days.")
    recent = Withdrawal.objects.filter(
        player=player, requested_at__gt=now - RECENT_WITHDRAWALS_WINDOW
    ).count()
    if recent > RECENT_WITHDRAWALS_MAX:
        reasons.append(f"{recent} withdrawal requests in the last 24 hours.")
    if maker_checker_required(
        policy=policy, currency=currency, amount_minor=amount_minor
    ):
        reasons.append("Above the maker-checker amount: two operators must approve.")
    refundable = _refundable_deposits_minor(player=player, currency=currency, now=now)
    if refundable:
        reasons.append(
            f"Closed loop: up to {to_major(min(refundable, amount_minor), currency)} "
            f"{currency} goes back to the deposit methods first (see the planned "
            "split)."
        )
    if holder_name is not None and not names_match(holder_name, player.verified_name):
        reasons.append(
            "The bank account holder's name does not match the player's verified name."
            if player.verified_name
            else "No verified name on file for the "
            "player: the bank account holder cannot be matched."
        )
    return reasons


def _refundable_deposits_minor(*, player: Player, currency: str, now) -> int:
    """What the player's recent completed deposits could still take back (pending
    refunds are the payments app's; not subtracting them errs towards review)."""
    return (
        Deposit.objects.filter(
            tenant_id=player.tenant_id,
            player=player,
            currency=currency,
            state=Deposit.State.COMPLETED,
            completed_at__gte=now - CLOSED_LOOP_REFUND_WINDOW,
        ).aggregate(
            total=Sum(F("amount_minor") - F("refunded_minor") - F("charged_back_minor"))
        )["total"]
        or 0
    )


def aml_after_deposit(*, player: Player, currency: str) -> list[PlayerRiskFlag]:
    """The deposit flow's AML hook, after a credit: bring the flags up to date. A
    broken threshold must not undo a payment the PSP already took, so it is logged
    here; the withdrawal side fails closed on it."""
    try:
        return aml_thresholds_evaluate(player=player, currency=currency)
    except InvalidPolicyValue:
        logger.warning("aml.threshold_broken", extra={"tenant_id": player.tenant_id})
        return []
