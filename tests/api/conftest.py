import pytest

from tests.factories import PlayerFactory, TenantFactory, token_for


class PlayerClient:
    """The API as a brand's frontend calls it: X-Tenant and Bearer token on each call."""

    def __init__(self, api_client, tenant, token=None):
        self.api_client = api_client
        self.tenant = tenant
        self.token = token

    def headers(self, tenant=None) -> dict:
        headers = {"HTTP_X_TENANT": (tenant or self.tenant).slug}
        if self.token:
            headers["HTTP_AUTHORIZATION"] = f"Bearer {self.token}"
        return headers

    def get(self, path, params=None, tenant=None):
        return self.api_client.get(path, params or {}, **self.headers(tenant))

    def post(self, path, body, tenant=None):
        return self.api_client.post(path, body, format="json", **self.headers(tenant))


@pytest.fixture
def tenant_a(db):
    return TenantFactory(slug="alpha", name="Alpha")


@pytest.fixture
def tenant_b(db):
    return TenantFactory(slug="beta", name="Beta")


@pytest.fixture
def player_a(tenant_a):
    return PlayerFactory(tenant=tenant_a, email="ann@example.com")


@pytest.fixture
def client_a(api_client, player_a):
    return PlayerClient(api_client, player_a.tenant, token_for(player_a))
