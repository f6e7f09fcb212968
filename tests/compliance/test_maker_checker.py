"""Maker-checker: strictly above the tenant's amount (default 5,000.00 EUR) two
different operators must approve; both names are audited. No cancel once approved."""

import pytest
from django.db import transaction

from audit.models import AuditEvent
from common.actors import Actor
from payments.withdrawals.services import withdrawal_review_approve
from tests.factories import OperatorFactory
from tests.withdrawals.factories import verified_player, withdrawal_requested
from wallet.exceptions import WithdrawalSecondApproverRequired
from wallet.models import Withdrawal
from wallet.services import withdrawal_cancel

pytestmark = pytest.mark.django_db


def approve(withdrawal, user):
    with transaction.atomic():
        return withdrawal_review_approve(
            withdrawal=withdrawal, actor=Actor.for_user(user)
        )


def large_withdrawal(amount_minor=500_001):
    player = verified_player(balance_minor=1_000_000)
    return withdrawal_requested(player, amount_minor)


def test_at_the_threshold_one_approval_is_enough():
    withdrawal = large_withdrawal(500_000)
    approved, _ = approve(withdrawal, OperatorFactory(tenants=[withdrawal.tenant]))
    assert approved.state == Withdrawal.State.PAYOUT_PENDING


def test_above_the_threshold_the_first_approval_only_records_itself():
    withdrawal = large_withdrawal()
    maker = OperatorFactory(tenants=[withdrawal.tenant])
    after, changed = approve(withdrawal, maker)
    assert changed
    assert after.state == Withdrawal.State.REQUESTED
    assert after.first_approved_by == maker
    assert not after.attempts.exists()


def test_the_same_operator_cannot_approve_twice():
    withdrawal = large_withdrawal()
    maker = OperatorFactory(tenants=[withdrawal.tenant])
    approve(withdrawal, maker)
    with pytest.raises(WithdrawalSecondApproverRequired):
        approve(withdrawal, maker)
    withdrawal.refresh_from_db()
    assert withdrawal.state == Withdrawal.State.REQUESTED


def test_a_second_operator_approves_and_both_names_are_audited():
    withdrawal = large_withdrawal()
    maker = OperatorFactory(tenants=[withdrawal.tenant])
    checker = OperatorFactory(tenants=[withdrawal.tenant])
    approve(withdrawal, maker)
    after, _ = approve(withdrawal, checker)
    assert after.state == Withdrawal.State.PAYOUT_PENDING
    assert after.reviewed_by == checker
    event = AuditEvent.objects.get(action="withdrawal.second_approval")
    assert event.after == {
        "first_approved_by": maker.username,
        "second_approved_by": checker.username,
    }
    assert AuditEvent.objects.get(action="withdrawal.first_approval").actor_label == (
        maker.username
    )


def test_an_unnamed_actor_cannot_approve_above_the_threshold():
    withdrawal = large_withdrawal()
    with pytest.raises(WithdrawalSecondApproverRequired), transaction.atomic():
        withdrawal_review_approve(
            withdrawal=withdrawal, actor=Actor(type=Actor.USER, label="script")
        )


def test_a_large_withdrawal_is_never_auto_approved():
    from tests.withdrawals.factories import policy_set

    player = verified_player(balance_minor=1_000_000)
    policy_set(player.tenant, auto_approve_thresholds={"EUR": 900_000})
    withdrawal = withdrawal_requested(player, 500_001)
    assert withdrawal.state == Withdrawal.State.REQUESTED


def test_an_approved_withdrawal_cannot_be_canceled_by_the_player():
    player = verified_player(balance_minor=10_000)
    withdrawal = withdrawal_requested(player, 2_000)
    approve(withdrawal, OperatorFactory(tenants=[withdrawal.tenant]))
    with pytest.raises(Exception) as refused, transaction.atomic():
        withdrawal_cancel(withdrawal=withdrawal, actor=Actor.for_player(player))
    assert refused.value.code == "ILLEGAL_TRANSACTION_STATE_TRANSITION"


def test_a_first_approved_withdrawal_can_still_be_canceled_while_requested():
    withdrawal = large_withdrawal()
    approve(withdrawal, OperatorFactory(tenants=[withdrawal.tenant]))
    with transaction.atomic():
        canceled, _ = withdrawal_cancel(
            withdrawal=withdrawal, actor=Actor.for_player(withdrawal.player)
        )
    assert canceled.state == Withdrawal.State.CANCELED


def test_a_brand_can_forbid_cancel_while_requested():
    from tests.withdrawals.factories import policy_set

    player = verified_player(balance_minor=10_000)
    policy_set(player.tenant, player_may_cancel_withdrawal=False)
    withdrawal = withdrawal_requested(player, 2_000)
    with pytest.raises(Exception) as refused, transaction.atomic():
        withdrawal_cancel(withdrawal=withdrawal, actor=Actor.for_player(player))
    assert refused.value.code == "WITHDRAWAL_CANCEL_NOT_ALLOWED"
    assert refused.value.http_status == 403
    withdrawal.refresh_from_db()
    assert withdrawal.state == Withdrawal.State.REQUESTED
