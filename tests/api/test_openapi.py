import re

import pytest
from drf_spectacular.validation import validate_schema

pytestmark = pytest.mark.django_db

EXTERNAL = re.compile(r"""(?:src|href)\s*=\s*["']?(?:https?:)?//""", re.IGNORECASE)


def test_schema_is_a_valid_openapi_document(api_client):
    response = api_client.get("/api/schema/", {"format": "json"})

    assert response.status_code == 200
    schema = response.json()
    validate_schema(schema)
    assert {
        "/api/v1/auth/register",
        "/api/v1/auth/login",
        "/api/v1/me",
        "/api/v1/wallet/balances",
        "/api/v1/wallet/transactions",
    } <= set(schema["paths"])


def test_docs_page_loads_its_assets_locally(client):
    response = client.get("/api/docs/")

    html = response.content.decode()
    assert response.status_code == 200
    assert "swagger-ui" in html
    assert "/static/drf_spectacular_sidecar/" in html
    assert not EXTERNAL.search(html)
    assert not re.search(r"https?://(?!127\.0\.0\.1|localhost|testserver)", html)


def test_schema_documents_the_bearer_token_and_the_tenant_header(api_client):
    schema = api_client.get("/api/schema/", {"format": "json"}).json()

    me = schema["paths"]["/api/v1/me"]["get"]
    assert schema["components"]["securitySchemes"]["playerToken"]["scheme"] == "bearer"
    assert {"playerToken": []} in me["security"]
    assert "X-Tenant" in [p["name"] for p in me["parameters"] if p["in"] == "header"]


def test_schema_generates_without_a_single_warning(tmp_path):
    from django.core.management import call_command

    # --fail-on-warn turns a duplicate component name or an undocumented
    # authentication class into an error, so the schema clients use stays exact.
    call_command("spectacular", "--fail-on-warn", "--file", str(tmp_path / "s.yml"))
