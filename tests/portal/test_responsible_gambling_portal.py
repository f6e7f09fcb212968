"""The portal's "Safer gambling" page: limits, confirmation after cooling-off,
time-out and self-exclusion through the same services as the API."""

import pytest

from casino.models import PlayerExclusion
from tests.factories import PlayerFactory
from tests.payments.factories import PSPConfigFactory
from tests.portal.test_portal import login
from wallet.models import Deposit, PlayerDepositLimit

pytestmark = pytest.mark.django_db
PAGE = "/safer-gambling/"


def logged_in(client):
    player = PlayerFactory()
    login(client, player)
    return player


def test_the_page_needs_a_login(client):
    player = PlayerFactory()
    response = client.get(f"{PAGE}?tenant={player.tenant.slug}")
    assert response.status_code == 302


def test_a_player_sets_a_limit_then_raises_it_and_confirms_after_24_hours(
    client, clock
):
    player = logged_in(client)
    client.post(
        PAGE, {"action": "limit", "currency": "EUR", "period": "day", "amount": "20"}
    )
    client.post(
        PAGE, {"action": "limit", "currency": "EUR", "period": "day", "amount": "50"}
    )
    limit = PlayerDepositLimit.objects.get(player=player)
    assert (limit.amount_minor, limit.pending_amount_minor) == (2_000, 5_000)
    page = client.get(PAGE).content.decode()
    assert "20.00 EUR" in page and "Confirm" in page
    early = client.post(
        PAGE, {"action": "confirm", "currency": "EUR", "period": "day"}, follow=True
    )
    assert "DEPOSIT_LIMIT_COOLING_OFF" in early.content.decode()
    clock.advance(seconds=24 * 3600)
    client.post(PAGE, {"action": "confirm", "currency": "EUR", "period": "day"})
    limit.refresh_from_db()
    assert limit.amount_minor == 5_000


def test_a_self_exclusion_needs_the_acknowledgement(client):
    player = logged_in(client)
    response = client.post(PAGE, {"action": "self_exclusion", "duration": "6"})
    assert response.status_code == 200
    assert "form-errors" in response.content.decode()
    assert not PlayerExclusion.objects.exists()
    client.post(PAGE, {"action": "self_exclusion", "duration": "6", "confirm": "on"})
    assert PlayerExclusion.objects.get(player=player).kind == "self_exclusion"
    assert "Deposits and play are closed" in client.get(PAGE).content.decode()


def test_a_time_out_then_a_deposit_is_refused(client):
    player = logged_in(client)
    PSPConfigFactory(tenant=player.tenant)  # refused before any PSP is called
    client.post(PAGE, {"action": "time_out", "hours": "24"})
    response = client.post(
        "/deposit/",
        {"amount": "10.00", "currency": "EUR", "idempotency_key": "abcdefgh1234"},
    )
    assert "PLAYER_EXCLUDED" in response.content.decode()
    assert not Deposit.objects.exists()
