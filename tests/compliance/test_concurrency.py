"""Races with real threads and commits on PostgreSQL: concurrent deposits cannot pass
a player's limit; two concurrent approvals of a large withdrawal give one first and
one second approval, never two payouts."""

import pytest
from django.db import transaction

from audit.models import AuditEvent
from common.actors import Actor
from payments.withdrawals.services import withdrawal_review_approve
from tests.factories import OperatorFactory, PlayerFactory
from tests.withdrawals.factories import verified_player, withdrawal_requested
from tests.withdrawals.test_concurrency import codes, race
from wallet.compliance.deposit_limits import player_deposit_limit_set
from wallet.models import Deposit, Withdrawal
from wallet.services import deposit_create

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def start(player, amount_minor, key):
    def call():
        with transaction.atomic(durable=True):
            return deposit_create(
                player=player,
                provider="stripe",
                amount_minor=amount_minor,
                currency="EUR",
                idempotency_key=key,
                actor=Actor.for_player(player),
            )

    return call


def approve(withdrawal, user):
    def call():
        with transaction.atomic(durable=True):
            return withdrawal_review_approve(
                withdrawal=withdrawal, actor=Actor.for_user(user)
            )

    return call


def test_concurrent_deposits_cannot_pass_the_players_limit():
    player = PlayerFactory()
    with transaction.atomic():
        player_deposit_limit_set(
            player=player, currency="EUR", period="day", amount_minor=10_000
        )
    results = race(*(start(player, 3_000, f"d{i}") for i in range(6)))
    assert codes(results) == ["PLAYER_DEPOSIT_LIMIT_EXCEEDED"] * 3 + ["ok"] * 3
    total = sum(
        Deposit.objects.filter(player=player).values_list("amount_minor", flat=True)
    )
    assert total == 9_000


def test_two_operators_approving_at_once_make_one_first_and_one_second_approval():
    withdrawal = withdrawal_requested(verified_player(balance_minor=1_000_000), 600_000)
    maker = OperatorFactory(tenants=[withdrawal.tenant])
    checker = OperatorFactory(tenants=[withdrawal.tenant])
    results = race(approve(withdrawal, maker), approve(withdrawal, checker))
    assert codes(results) == ["ok", "ok"]
    withdrawal.refresh_from_db()
    assert withdrawal.state == Withdrawal.State.PAYOUT_PENDING
    assert withdrawal.attempts.count() == 1
    assert AuditEvent.objects.filter(action="withdrawal.first_approval").count() == 1
    assert AuditEvent.objects.filter(action="withdrawal.second_approval").count() == 1
    assert {withdrawal.first_approved_by_id, withdrawal.reviewed_by_id} == {
        maker.pk,
        checker.pk,
    }


def test_one_operator_approving_twice_at_once_is_not_a_second_approval():
    withdrawal = withdrawal_requested(verified_player(balance_minor=1_000_000), 600_000)
    maker = OperatorFactory(tenants=[withdrawal.tenant])
    results = race(approve(withdrawal, maker), approve(withdrawal, maker))
    assert codes(results) == ["WITHDRAWAL_SECOND_APPROVER_REQUIRED", "ok"]
    withdrawal.refresh_from_db()
    assert withdrawal.state == Withdrawal.State.REQUESTED
    assert not withdrawal.attempts.exists()
