"""Every operator API endpoint, read from the URLconf (a new one is covered without
editing this file): a brand's key never reaches or reveals another brand's objects."""

import re

import pytest
from django.urls import URLResolver, get_resolver

from tests.crm.conftest import KeyClient, make_key
from tests.crm.factories import crm_rows
from tests.factories import OperatorFactory, PlayerFactory

pytestmark = pytest.mark.django_db
_PARAM = re.compile(r"<(?:\w+:)?(\w+)>")
METHODS = ["get", "post", "put", "patch", "delete"]


def crm_endpoints() -> list[tuple[str, str]]:
    include = next(
        p
        for p in get_resolver().url_patterns
        if isinstance(p, URLResolver) and str(p.pattern) == "api/v1/crm/"
    )
    return [
        ("/api/v1/crm/" + str(pattern.pattern), method)
        for pattern in include.url_patterns
        for method in METHODS
        if hasattr(pattern.callback.view_class, method)
    ]


ENDPOINTS = crm_endpoints()


@pytest.fixture
def brands(api_client, tenant, other_tenant):
    mine = PlayerFactory(tenant=tenant, email="mine@example.com")
    theirs = PlayerFactory(tenant=other_tenant, email="theirs@example.com")
    crm_rows(tenant, mine, OperatorFactory(tenants=[tenant]))
    rows = crm_rows(other_tenant, theirs, OperatorFactory(tenants=[other_tenant]))
    ids = {
        "player_id": theirs.pk,
        "tag_id": rows["tag"].pk,
        "note_id": rows["note"].pk,
        "segment_id": rows["segment"].pk,
        "campaign_id": rows["campaign"].pk,
    }
    _, raw = make_key(tenant)
    return KeyClient(api_client, raw), ids, rows


def test_every_crm_endpoint_is_found():
    paths = {path for path, _ in ENDPOINTS}
    assert "/api/v1/crm/players/<int:player_id>" in paths
    assert len(ENDPOINTS) >= 18


@pytest.mark.parametrize(("path", "method"), ENDPOINTS)
def test_a_brands_key_gets_404_or_nothing_of_another_brand(path, method, brands):
    client, ids, rows = brands
    concrete = _PARAM.sub(lambda m: str(ids[m.group(1)]), path)
    body = {
        "tag_id": ids["tag_id"],
        "segment_id": ids["segment_id"],
        "body": "x",
        "name": "n",
        "channel": "email",
        "granted": True,
        "source": "s",
        "subject_template": "s",
        "body_template": "b",
        "rules": {},
    }

    if method == "get":
        response = client.get(concrete)
    elif method == "delete":
        response = client.delete(concrete)
    else:
        response = getattr(client, method)(concrete, body)

    html = response.content.decode()
    assert "theirs@example.com" not in html
    assert rows["tag"].name not in html
    other_ids = {
        "tags": ids["tag_id"],
        "segments": ids["segment_id"],
        "campaigns": ids["campaign_id"],
    }
    if _PARAM.search(path) or (method == "post" and path.endswith("campaigns")):
        assert response.status_code == 404, (concrete, method, html)
    elif method == "get":
        assert response.status_code == 200
        items = response.json()
        items = items["results"] if isinstance(items, dict) else items
        kind = path.rsplit("/", 1)[-1]
        assert other_ids.get(kind) not in {item["id"] for item in items}
    else:
        assert response.status_code == 201
