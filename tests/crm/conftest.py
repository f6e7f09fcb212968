from dataclasses import dataclass

import pytest

from common.actors import Actor
from tenants.api_keys import api_key_create
from tests.factories import OperatorFactory, PlayerFactory, TenantFactory

SYSTEM = Actor.system("tests")


@dataclass
class KeyClient:
    """The operator API as a back-office tool calls it: X-Api-Key on each call."""

    api_client: object
    raw_key: str

    def _h(self, key):
        return {"HTTP_X_API_KEY": self.raw_key if key is None else key}

    def get(self, path, params=None, key=None):
        return self.api_client.get(path, params or {}, **self._h(key))

    def post(self, path, body=None, key=None):
        return self.api_client.post(path, body or {}, format="json", **self._h(key))

    def patch(self, path, body, key=None):
        return self.api_client.patch(path, body, format="json", **self._h(key))

    def put(self, path, body, key=None):
        return self.api_client.put(path, body, format="json", **self._h(key))

    def delete(self, path, key=None):
        return self.api_client.delete(path, **self._h(key))


@pytest.fixture
def tenant(db):
    return TenantFactory(slug="alpha", name="Alpha Casino")


@pytest.fixture
def other_tenant(db):
    return TenantFactory(slug="beta", name="Beta Casino")


@pytest.fixture
def player(tenant):
    return PlayerFactory(tenant=tenant, email="ann@example.com", display_name="Ann")


@pytest.fixture
def operator(tenant):
    return OperatorFactory(username="alpha-op", tenants=[tenant])


def make_key(tenant, scopes=("crm:read", "crm:write")) -> tuple:
    return api_key_create(actor=SYSTEM, tenant=tenant, name="tool", scopes=scopes)


@pytest.fixture
def crm_api(api_client, tenant) -> KeyClient:
    _, raw = make_key(tenant)
    return KeyClient(api_client, raw)
