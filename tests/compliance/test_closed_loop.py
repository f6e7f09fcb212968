"""Closed-loop payouts: the planned split (a pure function) and the name check on
the bank leg at approval."""

from datetime import UTC, datetime, timedelta

import pytest
from django.db import transaction
from hypothesis import given
from hypothesis import strategies as st

from casino.models import Player
from common.actors import Actor
from common.names import names_match
from payments.exceptions import WithdrawalPayoutNameMismatch
from payments.withdrawals.closed_loop import (
    PayoutLeg,
    RefundableDeposit,
    closed_loop_plan,
    withdrawal_payout_plan,
)
from payments.withdrawals.services import withdrawal_review_approve
from tests.compliance.helpers import deposit_paid
from tests.factories import OperatorFactory
from tests.withdrawals.factories import verified_player, withdrawal_requested
from wallet.models import Withdrawal

T0 = datetime(2026, 1, 1, tzinfo=UTC)


def dep(deposit_id, refundable, *, days=0, currency="EUR", provider="stripe"):
    return RefundableDeposit(
        deposit_id=deposit_id,
        provider=provider,
        currency=currency,
        refundable_minor=refundable,
        completed_at=T0 + timedelta(days=days),
    )


def plan(amount, deposits, holder="Ann Example", verified="Ann Example"):
    return closed_loop_plan(
        amount_minor=amount,
        currency="EUR",
        deposits=deposits,
        holder_name=holder,
        verified_name=verified,
    )


def test_without_deposits_everything_goes_to_the_bank():
    result = plan(5_000, [])
    assert result.legs == (PayoutLeg(kind="bank", amount_minor=5_000),)
    assert (result.refund_minor, result.bank_minor) == (0, 5_000)


def test_a_deposit_that_covers_the_amount_takes_it_all_as_a_refund():
    result = plan(5_000, [dep(1, 8_000)])
    assert result.legs == (
        PayoutLeg(kind="refund", amount_minor=5_000, deposit_id=1, provider="stripe"),
    )
    assert result.bank_minor == 0


def test_refunds_go_newest_deposit_first_then_the_remainder_to_the_bank():
    result = plan(10_000, [dep(1, 3_000, days=0), dep(2, 4_000, days=5)])
    assert [(leg.kind, leg.deposit_id, leg.amount_minor) for leg in result.legs] == [
        ("refund", 2, 4_000),
        ("refund", 1, 3_000),
        ("bank", None, 3_000),
    ]


def test_on_the_same_instant_the_higher_deposit_id_goes_first():
    result = plan(1_000, [dep(1, 1_000), dep(2, 1_000)])
    assert result.legs[0].deposit_id == 2


def test_deposits_in_another_currency_or_with_nothing_left_are_skipped():
    result = plan(
        5_000, [dep(1, 5_000, currency="USD"), dep(2, 0, days=3), dep(3, -5, days=4)]
    )
    assert result.legs == (PayoutLeg(kind="bank", amount_minor=5_000),)


def test_a_refundable_amount_exactly_equal_leaves_no_bank_leg():
    result = plan(5_000, [dep(1, 2_000), dep(2, 3_000, days=1)])
    assert [leg.kind for leg in result.legs] == ["refund", "refund"]
    assert result.payable


def test_a_bank_leg_to_another_name_is_not_payable():
    result = plan(5_000, [dep(1, 2_000)], holder="Bob Other")
    assert result.bank_minor == 3_000
    assert not result.bank_name_matches
    assert not result.payable


def test_the_name_does_not_matter_when_refunds_cover_everything():
    result = plan(2_000, [dep(1, 2_000)], holder="Bob Other")
    assert result.payable


def test_no_verified_name_matches_no_bank_account():
    assert not plan(5_000, [], verified="").payable


def test_names_match_ignores_case_accents_punctuation_and_order():
    assert names_match("ÁNGEL o'neil", "Oneil Angel")
    assert not names_match("Angel O'Neil Jr", "Angel O'Neil")
    assert not names_match("", "")


def test_a_non_positive_amount_is_a_programming_error():
    with pytest.raises(ValueError):
        plan(0, [])


@given(
    amount=st.integers(min_value=1, max_value=10**9),
    refundables=st.lists(st.integers(min_value=-10, max_value=10**8), max_size=8),
)
def test_the_legs_always_add_up_and_no_refund_exceeds_its_deposit(amount, refundables):
    deposits = [dep(i, r, days=i % 3) for i, r in enumerate(refundables, start=1)]
    result = plan(amount, deposits)
    assert sum(leg.amount_minor for leg in result.legs) == amount
    assert result.refund_minor + result.bank_minor == amount
    by_id = {d.deposit_id: d.refundable_minor for d in deposits}
    for leg in result.legs:
        assert leg.amount_minor > 0
        if leg.kind == "refund":
            assert leg.amount_minor <= by_id[leg.deposit_id]
    assert [leg.kind for leg in result.legs].count("bank") <= 1
    assert result.bank_minor == max(0, amount - sum(max(0, r) for r in refundables))


@pytest.mark.django_db
def test_the_plan_of_a_real_withdrawal_uses_the_players_completed_deposits():
    player = verified_player(balance_minor=1_000)  # credited without a PSP deposit
    first = deposit_paid(player, 3_000)
    second = deposit_paid(player, 2_000)
    withdrawal = withdrawal_requested(player, 6_000)
    result = withdrawal_payout_plan(withdrawal=withdrawal)
    assert [(leg.kind, leg.deposit_id, leg.amount_minor) for leg in result.legs] == [
        ("refund", second.pk, 2_000),
        ("refund", first.pk, 3_000),
        ("bank", None, 1_000),
    ]
    assert result.payable


@pytest.mark.django_db
def test_a_withdrawal_with_refundable_deposits_waits_for_review():
    from tests.withdrawals.factories import policy_set

    player = verified_player(balance_minor=0)
    policy_set(player.tenant, auto_approve_thresholds={"EUR": 100_000})
    deposit_paid(player, 3_000)
    withdrawal = withdrawal_requested(player, 1_000)
    assert withdrawal.state == Withdrawal.State.REQUESTED


@pytest.mark.django_db
def test_approval_refuses_a_bank_leg_to_an_account_not_in_the_verified_name():
    player = verified_player(balance_minor=10_000)
    Player.objects.filter(pk=player.pk).update(verified_name="Someone Else")
    withdrawal = withdrawal_requested(player, 2_000)
    operator = OperatorFactory(tenants=[withdrawal.tenant])
    with pytest.raises(WithdrawalPayoutNameMismatch), transaction.atomic():
        withdrawal_review_approve(withdrawal=withdrawal, actor=Actor.for_user(operator))
    withdrawal.refresh_from_db()
    assert withdrawal.state == Withdrawal.State.REQUESTED
