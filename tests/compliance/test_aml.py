"""AML thresholds: cumulative deposits reaching the tenant's CDD amount (default
2,000.00 EUR) and net deposits over 30 days reaching the affordability amount raise
flags; an open flag sends the next withdrawal to review until an operator clears it."""

import pytest
from django.db import transaction

from audit.models import AuditEvent
from common.actors import Actor
from tests.compliance.helpers import deposit_paid
from tests.factories import fund
from tests.withdrawals.factories import (
    policy_set,
    verified_player,
    withdrawal_requested,
)
from wallet.compliance.risk import risk_flag_clear, withdrawal_review_reasons
from wallet.models import PlayerRiskFlag, Withdrawal

pytestmark = pytest.mark.django_db

CHECKER = Actor(type=Actor.USER, label="aml-officer")


def auto_approving(player):
    policy_set(player.tenant, auto_approve_thresholds={"EUR": 100_000})


def test_the_default_cdd_threshold_is_2000_eur():
    player = verified_player(balance_minor=0)
    assert player.tenant.policy.aml_cdd_thresholds == {"EUR": 200_000}


def test_deposits_reaching_the_threshold_exactly_raise_the_flag_at_credit():
    player = verified_player(balance_minor=0)
    deposit_paid(player, 150_000)
    assert not PlayerRiskFlag.objects.exists()
    deposit_paid(player, 50_000)
    flag = PlayerRiskFlag.objects.get(player=player)
    assert flag.kind == PlayerRiskFlag.Kind.DUE_DILIGENCE
    assert flag.details["deposited_minor"] == 200_000
    assert AuditEvent.objects.filter(action="player.risk_flag_raised").count() == 1


def test_one_cent_under_the_threshold_raises_nothing_and_auto_approves():
    player = verified_player(balance_minor=199_999)
    auto_approving(player)
    withdrawal = withdrawal_requested(player, 1_000)
    assert not PlayerRiskFlag.objects.exists()
    assert withdrawal.state == Withdrawal.State.APPROVED


def test_the_next_withdrawal_after_the_threshold_goes_to_review():
    player = verified_player(balance_minor=200_000)
    auto_approving(player)
    withdrawal = withdrawal_requested(player, 1_000)
    assert withdrawal.state == Withdrawal.State.REQUESTED
    assert PlayerRiskFlag.objects.filter(player=player, cleared_at=None).count() == 1


def test_a_second_crossing_does_not_open_a_second_flag():
    player = verified_player(balance_minor=0)
    deposit_paid(player, 200_000)
    deposit_paid(player, 200_000)
    assert PlayerRiskFlag.objects.filter(player=player).count() == 1


def test_a_cleared_flag_lets_withdrawals_through_until_new_deposits_reach_it_again():
    player = verified_player(balance_minor=200_000)
    auto_approving(player)
    withdrawal_requested(player, 1_000)
    flag = PlayerRiskFlag.objects.get(player=player)
    with transaction.atomic():
        risk_flag_clear(flag=flag, actor=CHECKER, reason="source of funds: payslips")
    assert withdrawal_requested(player, 1_000).state == Withdrawal.State.APPROVED
    fund(player, 200_000)
    assert withdrawal_requested(player, 1_000).state == Withdrawal.State.REQUESTED
    assert PlayerRiskFlag.objects.filter(player=player, cleared_at=None).count() == 1


def test_clearing_needs_a_reason_and_is_audited():
    player = verified_player(balance_minor=0)
    deposit_paid(player, 200_000)
    flag = PlayerRiskFlag.objects.get(player=player)
    with pytest.raises(Exception) as refused, transaction.atomic():
        risk_flag_clear(flag=flag, actor=CHECKER, reason=" ")
    assert refused.value.code == "VALIDATION_ERROR"
    with transaction.atomic():
        risk_flag_clear(flag=flag, actor=CHECKER, reason="checked")
    event = AuditEvent.objects.get(action="player.risk_flag_cleared")
    assert (event.actor_label, event.reason) == ("aml-officer", "checked")


def test_net_deposits_reaching_the_affordability_threshold_raise_a_flag():
    player = verified_player(balance_minor=0, currency="GBP")
    policy_set(player.tenant, aml_cdd_thresholds={})
    player.tenant.allowed_currencies = ["GBP"]
    player.tenant.save()
    deposit_paid(player, 14_999, "GBP")
    assert not PlayerRiskFlag.objects.exists()
    deposit_paid(player, 1, "GBP")
    flag = PlayerRiskFlag.objects.get(player=player)
    assert flag.kind == PlayerRiskFlag.Kind.AFFORDABILITY
    assert flag.details["net_deposits_minor"] == 15_000


def test_a_broken_threshold_fails_closed_to_review():
    player = verified_player(balance_minor=10_000)
    policy_set(
        player.tenant,
        auto_approve_thresholds={"EUR": 100_000},
        aml_cdd_thresholds={"EUR": "lots"},
    )
    withdrawal = withdrawal_requested(player, 1_000)
    assert withdrawal.state == Withdrawal.State.REQUESTED


def test_a_broken_threshold_does_not_undo_a_paid_deposit():
    player = verified_player(balance_minor=0)
    policy_set(player.tenant, aml_cdd_thresholds={"EUR": "lots"})
    deposit = deposit_paid(player, 5_000)
    assert deposit.state == "completed"


def test_the_review_reasons_list_every_open_flag():
    player = verified_player(balance_minor=0)
    deposit_paid(player, 200_000)
    reasons = withdrawal_review_reasons(
        player=player, currency="EUR", amount_minor=1_000, evaluate=False
    )
    assert any(reason.startswith("Open risk flag:") for reason in reasons)
