import re

import pytest
from django.urls import URLResolver, get_resolver

from casino.models import Player
from tenants.models import Tenant, TenantDomain
from tests.factories import PlayerFactory, fund, token_for
from tests.payments.factories import pending_deposit
from tests.withdrawals.factories import withdrawal_requested


def _own_withdrawal(player) -> int:
    Player.objects.filter(pk=player.pk).update(kyc_status=Player.KycStatus.VERIFIED)
    player.refresh_from_db()
    return withdrawal_requested(player, 1_000).pk


# Every GET endpoint with a path parameter names here how to make a row the player
# owns; test_every_detail_endpoint_has_an_owned_object fails for one that does not.
OWNED_OBJECT = {
    "withdrawal_id": _own_withdrawal,
    "deposit_id": lambda player: pending_deposit(player).pk,
}
_PARAM = re.compile(r"<(?:\w+:)?(\w+)>")


def concrete(path: str, player) -> str:
    return _PARAM.sub(lambda m: str(OWNED_OBJECT[m.group(1)](player)), path)


pytestmark = pytest.mark.django_db


def api_v1_get_paths() -> list[str]:
    """Every GET endpoint under /api/v1/, read from the URLconf so a new one is
    covered by the isolation test without editing it."""
    include = next(
        p
        for p in get_resolver().url_patterns
        if isinstance(p, URLResolver) and str(p.pattern) == "api/v1/"
    )
    paths = []
    for pattern in include.url_patterns:
        view = getattr(pattern.callback, "view_class", None)
        if view is not None and hasattr(view, "get"):
            paths.append("/api/v1/" + str(pattern.pattern))
    return paths


GET_PATHS = api_v1_get_paths()


def test_the_get_endpoints_are_found():
    assert {
        "/api/v1/me",
        "/api/v1/wallet/balances",
        "/api/v1/wallet/transactions",
    } <= set(GET_PATHS)


def test_every_detail_endpoint_has_an_owned_object():
    params = {name for path in GET_PATHS for name in _PARAM.findall(path)}
    assert params <= set(OWNED_OBJECT)


@pytest.mark.parametrize("path", GET_PATHS)
def test_token_of_brand_a_is_404_on_every_brand_b_endpoint(
    path, api_client, client_a, player_a, tenant_b
):
    fund(player_a, 5_000)
    path = concrete(path, player_a)
    own = client_a.get(path)

    other = client_a.get(path, tenant=tenant_b)

    assert own.status_code == 200
    assert other.status_code == 404
    assert other.json()["error"]["code"] == "NOT_FOUND"
    assert "ann@example.com" not in other.content.decode()


@pytest.mark.parametrize("path", GET_PATHS)
def test_token_of_brand_a_is_404_on_brand_b_by_host(
    path, api_client, client_a, player_a, tenant_b
):
    TenantDomain.objects.create(tenant=tenant_b, domain="beta.localhost")
    fund(player_a, 5_000)
    path = concrete(path, player_a)

    response = api_client.get(
        path,
        HTTP_HOST="beta.localhost",
        HTTP_AUTHORIZATION=f"Bearer {client_a.token}",
    )

    assert response.status_code == 404


def test_tenant_resolves_by_x_tenant_header(client_a):
    response = client_a.get("/api/v1/me")

    assert response.json()["tenant"] == "alpha"


def test_tenant_resolves_by_host(api_client, player_a):
    TenantDomain.objects.create(tenant=player_a.tenant, domain="Alpha.Localhost")

    response = api_client.get(
        "/api/v1/me",
        HTTP_HOST="alpha.localhost:8000",
        HTTP_AUTHORIZATION=f"Bearer {token_for(player_a)}",
    )

    assert response.status_code == 200
    assert response.json()["tenant"] == "alpha"


def test_x_tenant_header_wins_over_the_host(api_client, player_a, tenant_b):
    TenantDomain.objects.create(tenant=tenant_b, domain="beta.localhost")

    response = api_client.get(
        "/api/v1/me",
        HTTP_HOST="beta.localhost",
        HTTP_X_TENANT="alpha",
        HTTP_AUTHORIZATION=f"Bearer {token_for(player_a)}",
    )

    assert response.json()["tenant"] == "alpha"


def test_unknown_tenant_header_is_404_tenant_not_found(api_client, db):
    response = api_client.get("/api/v1/me", HTTP_X_TENANT="nosuchbrand")

    assert response.status_code == 404
    assert response.json()["error"]["code"] == "TENANT_NOT_FOUND"


def test_unknown_host_is_404_tenant_not_found(api_client, db):
    response = api_client.post(
        "/api/v1/auth/login",
        {"email": "a@example.com", "password": "x"},
        format="json",
        HTTP_HOST="nobody.localhost",
    )

    assert response.status_code == 404
    assert response.json()["error"]["code"] == "TENANT_NOT_FOUND"


def test_suspended_tenant_is_403(client_a, player_a):
    Tenant.objects.filter(pk=player_a.tenant_id).update(status="suspended")

    response = client_a.get("/api/v1/me")

    assert response.status_code == 403
    assert response.json()["error"]["code"] == "TENANT_SUSPENDED"


def test_registration_on_a_suspended_tenant_is_403(api_client, tenant_a):
    Tenant.objects.filter(pk=tenant_a.pk).update(status="suspended")

    response = api_client.post(
        "/api/v1/auth/register",
        {"email": "x@example.com", "password": "long-enough-pass"},
        format="json",
        HTTP_X_TENANT="alpha",
    )

    assert response.status_code == 403


def test_player_of_brand_b_cannot_read_brand_a_balances(api_client, player_a, tenant_b):
    fund(player_a, 5_000)
    intruder = PlayerFactory(tenant=tenant_b)

    response = api_client.get(
        "/api/v1/wallet/balances",
        HTTP_X_TENANT="alpha",
        HTTP_AUTHORIZATION=f"Bearer {token_for(intruder)}",
    )

    assert response.status_code == 404
