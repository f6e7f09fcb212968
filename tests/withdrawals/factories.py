"""Withdrawal test data, built through the services like the rest of tests/."""

from __future__ import annotations

import itertools
from datetime import timedelta

from django.db import transaction

from casino.models import Player
from common import clock
from common.actors import Actor
from payments.withdrawals.manual import manual_payout_mark_failed
from payments.withdrawals.services import payout_dispatch, withdrawal_review_approve
from tenants.models import TenantPolicy
from tests.factories import PlayerFactory, fund
from wallet.models import Withdrawal
from wallet.services import withdrawal_request

IBAN = "DE89370400440532013000"
DESTINATION = {"type": "iban", "iban": IBAN, "holder_name": "Ann Example"}
OPERATOR = Actor(type=Actor.USER, label="operator-in-tests")
_keys = itertools.count(1)


def verified_player(
    *,
    balance_minor: int = 10_000,
    currency: str = "EUR",
    age_days: int = 30,
    **kwargs,
):
    """A KYC-verified player with ``balance_minor`` available, registered
    ``age_days`` ago (an account younger than 7 days is a risk flag)."""
    player = PlayerFactory(**kwargs)
    Player.objects.filter(pk=player.pk).update(
        kyc_status=Player.KycStatus.VERIFIED,
        verified_name="Ann Example",
        created_at=clock.now() - timedelta(days=age_days),
    )
    player.refresh_from_db()
    if balance_minor:
        fund(player, balance_minor, currency)
    return player


def policy_set(tenant, **fields) -> TenantPolicy:
    TenantPolicy.objects.filter(tenant=tenant).update(**fields)
    return TenantPolicy.objects.get(tenant=tenant)


def withdrawal_requested(
    player, amount_minor: int = 2_000, currency: str = "EUR", key: str | None = None
) -> Withdrawal:
    # The caller owns the transaction, as the API view does: a refusal rolls back.
    with transaction.atomic():
        withdrawal, _ = withdrawal_request(
            player=player,
            amount_minor=amount_minor,
            currency=currency,
            destination=DESTINATION,
            idempotency_key=key or f"test-withdrawal-{next(_keys)}",
            actor=Actor.for_player(player),
        )
    return withdrawal


def withdrawal_payout_pending(player, amount_minor: int = 2_000) -> Withdrawal:
    """Approved by an operator and sent to the manual provider (dispatch run)."""
    withdrawal = withdrawal_requested(player, amount_minor)
    withdrawal_review_approve(withdrawal=withdrawal, actor=OPERATOR)
    attempt = withdrawal.attempts.get()
    payout_dispatch(attempt_id=attempt.pk)
    withdrawal.refresh_from_db()
    return withdrawal


def latest_attempt(withdrawal: Withdrawal):
    return withdrawal.attempts.order_by("-number").first()


def withdrawal_payout_failed_once(player, amount_minor: int = 2_000) -> Withdrawal:
    withdrawal = withdrawal_payout_pending(player, amount_minor)
    with transaction.atomic():
        manual_payout_mark_failed(
            attempt=latest_attempt(withdrawal), actor=OPERATOR, reason="bank bounced"
        )
    withdrawal.refresh_from_db()
    return withdrawal
