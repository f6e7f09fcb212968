"""Logout revokes; a player holds at most PLAYER_MAX_LIVE_TOKENS live tokens."""

import pytest

from audit.models import AuditEvent
from casino.models import PlayerToken
from tests.api.conftest import PlayerClient
from tests.factories import PlayerFactory, token_for

pytestmark = pytest.mark.django_db


def test_logout_revokes_the_token_in_use_only(api_client, player_a):
    kept = PlayerClient(api_client, player_a.tenant, token_for(player_a))
    used = PlayerClient(api_client, player_a.tenant, token_for(player_a))

    response = used.post("/api/v1/auth/logout", {})

    assert response.status_code == 204
    assert used.get("/api/v1/me").status_code == 401
    assert kept.get("/api/v1/me").status_code == 200
    assert AuditEvent.objects.filter(
        action="player.logged_out", target_id=str(player_a.pk)
    ).exists()


def test_logout_all_revokes_every_token_of_the_player(api_client, player_a):
    sessions = [
        PlayerClient(api_client, player_a.tenant, token_for(player_a)) for _ in range(3)
    ]

    response = sessions[0].post("/api/v1/auth/logout-all", {})

    assert response.status_code == 200
    assert response.json() == {"tokens_revoked": 3}
    assert [s.get("/api/v1/me").status_code for s in sessions] == [401, 401, 401]
    assert AuditEvent.objects.filter(action="player.logged_out_everywhere").exists()


def test_logout_without_a_token_is_401(api_client, tenant_a):
    response = PlayerClient(api_client, tenant_a).post("/api/v1/auth/logout", {})

    assert response.status_code == 401


def test_logout_all_does_not_touch_another_players_tokens(
    api_client, player_a, tenant_a
):
    other = PlayerFactory(tenant=tenant_a)
    other_client = PlayerClient(api_client, tenant_a, token_for(other))

    PlayerClient(api_client, tenant_a, token_for(player_a)).post(
        "/api/v1/auth/logout-all", {}
    )

    assert other_client.get("/api/v1/me").status_code == 200


def test_logins_beyond_the_cap_revoke_the_oldest_tokens(api_client, player_a, settings):
    settings.PLAYER_MAX_LIVE_TOKENS = 3
    clients = [
        PlayerClient(api_client, player_a.tenant, token_for(player_a)) for _ in range(5)
    ]

    statuses = [c.get("/api/v1/me").status_code for c in clients]

    assert statuses == [401, 401, 200, 200, 200]
    assert PlayerToken.objects.filter(player=player_a).count() == 3


@pytest.mark.parametrize("path", ["/api/v1/auth/logout", "/api/v1/auth/logout-all"])
def test_a_token_of_brand_a_on_brand_b_is_404_and_revokes_nothing(
    path, client_a, tenant_b
):
    response = client_a.post(path, {}, tenant=tenant_b)

    assert response.status_code == 404
    assert response.json()["error"]["code"] == "NOT_FOUND"
    assert client_a.get("/api/v1/me").status_code == 200


def test_password_reset_on_another_brand_mails_nobody(
    api_client, player_a, tenant_b, mailoutbox, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        response = PlayerClient(api_client, tenant_b).post(
            "/api/v1/auth/password-reset", {"email": player_a.email}
        )

    assert response.status_code == 202
    assert mailoutbox == []
