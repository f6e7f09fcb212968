"""Risk flags decide, not decorate: a withdrawal with any open risk flag waits for an
operator even under the auto-approve threshold (fail closed)."""

from datetime import timedelta

import pytest

from casino.models import Player
from common import clock
from payments.withdrawals.services import withdrawal_submit
from tests.withdrawals.factories import DESTINATION, policy_set, verified_player
from wallet.models import Withdrawal

pytestmark = pytest.mark.django_db


def submit(player, amount_minor=1_000, key="k-1"):
    withdrawal, _ = withdrawal_submit(
        player=player,
        amount_minor=amount_minor,
        currency="EUR",
        destination=DESTINATION,
        idempotency_key=key,
    )
    return withdrawal


def test_a_young_account_under_the_auto_approve_threshold_goes_to_review():
    player = verified_player()
    Player.objects.filter(pk=player.pk).update(created_at=clock.now())
    player.refresh_from_db()
    policy_set(player.tenant, auto_approve_thresholds={"EUR": 5_000})

    withdrawal = submit(player)

    assert withdrawal.state == Withdrawal.State.REQUESTED
    assert withdrawal.auto_approved is False


def test_an_established_verified_account_under_the_threshold_is_auto_approved():
    player = verified_player()
    Player.objects.filter(pk=player.pk).update(
        created_at=clock.now() - timedelta(days=30)
    )
    player.refresh_from_db()
    policy_set(player.tenant, auto_approve_thresholds={"EUR": 5_000})

    withdrawal = submit(player)

    assert withdrawal.state == Withdrawal.State.PAYOUT_PENDING
    assert withdrawal.auto_approved is True
