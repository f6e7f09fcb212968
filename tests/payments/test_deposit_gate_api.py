"""The deposit API refuses what the player's own limits and exclusions forbid, before
any PSP is called (issue 13)."""

import pytest
from django.db import transaction

from casino.exclusions.services import player_time_out_start
from tests.payments.test_deposit_api import create, player  # noqa: F401
from wallet.compliance.deposit_limits import player_deposit_limit_set
from wallet.models import Deposit

pytestmark = pytest.mark.django_db


def test_a_deposit_over_the_players_limit_is_422_with_remaining_and_reset(
    api_client,
    player,  # noqa: F811
    fake_stripe,
):
    with transaction.atomic():
        player_deposit_limit_set(
            player=player, currency="EUR", period="day", amount_minor=1_000
        )
    response = create(api_client, player, {"amount": "10.01", "currency": "EUR"})
    assert response.status_code == 422
    error = response.json()["error"]
    assert error["code"] == "PLAYER_DEPOSIT_LIMIT_EXCEEDED"
    assert error["details"]["remaining"] == 1_000
    assert "resets_at" in error["details"]
    assert not Deposit.objects.exists()
    assert (
        create(
            api_client, player, {"amount": "10.00", "currency": "EUR"}, "k2"
        ).status_code
        == 201
    )


def test_a_timed_out_player_gets_403_and_no_checkout(
    api_client,
    player,  # noqa: F811
    fake_stripe,
):
    with transaction.atomic():
        player_time_out_start(player=player, hours=24)
    response = create(api_client, player)
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "PLAYER_EXCLUDED"
    assert not Deposit.objects.exists()
