import pytest

from tests.factories import PlayerFactory, TenantFactory, fund, token_for

pytestmark = pytest.mark.django_db


def test_register_login_and_read_empty_wallet(api_client):
    tenant = TenantFactory(slug="alpha")
    registered = api_client.post(
        "/api/v1/auth/register",
        {"email": "Ann@Example.com", "password": "long-enough-pass"},
        format="json",
        HTTP_X_TENANT="alpha",
    )
    assert registered.status_code == 201
    assert registered.json()["email"] == "ann@example.com"
    login = api_client.post(
        "/api/v1/auth/login",
        {"email": "ann@example.com", "password": "long-enough-pass"},
        format="json",
        HTTP_X_TENANT=tenant.slug,
    )
    token = login.json()["token"]
    balances = api_client.get(
        "/api/v1/wallet/balances",
        HTTP_X_TENANT="alpha",
        HTTP_AUTHORIZATION=f"Bearer {token}",
    )
    assert balances.status_code == 200
    assert balances.json() == {"balances": []}


def test_token_of_another_tenant_gets_404(api_client):
    player = PlayerFactory()
    other = TenantFactory()
    fund(player, 5000)
    response = api_client.get(
        "/api/v1/wallet/balances",
        HTTP_X_TENANT=other.slug,
        HTTP_AUTHORIZATION=f"Bearer {token_for(player)}",
    )
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "NOT_FOUND"


def test_history_lists_the_deposit(api_client):
    player = PlayerFactory()
    fund(player, 5000)
    response = api_client.get(
        "/api/v1/wallet/transactions",
        HTTP_X_TENANT=player.tenant.slug,
        HTTP_AUTHORIZATION=f"Bearer {token_for(player)}",
    )
    assert response.status_code == 200
    body = response.json()
    assert [r["amount"] for r in body["results"]] == ["50.00"]
    assert body["results"][0]["balance_after_minor"] == 5000
