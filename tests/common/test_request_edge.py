"""The request edge answers junk with a JSON 4xx before any view or query runs."""

import json

import pytest
from rest_framework.test import APIRequestFactory

from casino.apis import PlayerLoginApi
from common.edge import json_depth
from payments.models import WebhookInbox
from tests.factories import PlayerFactory, TenantFactory
from tests.payments.conftest import signed_headers
from tests.payments.factories import PSPConfigFactory

pytestmark = pytest.mark.django_db


def deep(levels: int) -> bytes:
    return b"[" * levels + b"]" * levels


def code(response) -> str:
    return response.json()["error"]["code"]


def test_nul_in_x_tenant_on_login_is_400_invalid_text(client):
    response = client.post(
        "/api/v1/auth/login",
        data=json.dumps({"email": "a@example.com", "password": "x"}),
        content_type="application/json",
        HTTP_X_TENANT="alpha\x00",
    )

    assert response.status_code == 400
    assert code(response) == "INVALID_TEXT"
    assert response.json()["error"]["details"] == {"where": "X-Tenant"}


def test_nul_in_the_portal_tenant_query_is_400(client):
    response = client.get("/login/", {"tenant": "a\x00b"})

    assert response.status_code == 400
    assert code(response) == "INVALID_TEXT"


def test_percent_encoded_nul_in_the_path_is_400(client):
    response = client.post(
        "/api/v1/webhooks/stripe/%00/", data=b"{}", content_type="application/json"
    )

    assert response.status_code == 400
    assert code(response) == "INVALID_TEXT"


def test_invalid_utf8_in_the_query_string_is_400(client):
    response = client.get("/login/?tenant=%ff%fe")

    assert response.status_code == 400
    assert code(response) == "INVALID_TEXT"


def test_nul_escape_in_a_json_body_is_400_but_an_escaped_backslash_is_not(client):
    refused = client.post(
        "/api/v1/auth/register",
        data=b'{"email": "a@example.com", "display_name": "\\u0000"}',
        content_type="application/json",
        HTTP_X_TENANT="nobrand",
    )
    passed = client.post(
        "/api/v1/auth/register",
        data=b'{"email": "a@example.com", "display_name": "\\\\u0000"}',
        content_type="application/json",
        HTTP_X_TENANT="nobrand",
    )

    assert (refused.status_code, code(refused)) == (400, "INVALID_TEXT")
    assert code(passed) == "TENANT_NOT_FOUND"


def test_nul_in_a_form_body_is_400(client):
    response = client.post(
        "/login/",
        data="email=a%00b&password=x",
        content_type="application/x-www-form-urlencoded",
    )

    assert response.status_code == 400
    assert code(response) == "INVALID_TEXT"


@pytest.mark.parametrize(
    "path", ["/api/v1/auth/register", "/api/v1/auth/login", "/api/v1/deposits"]
)
def test_50000_deep_json_is_400_nesting_too_deep(client, path):
    response = client.post(path, data=deep(50_000), content_type="application/json")

    assert response.status_code == 400
    assert code(response) == "REQUEST_NESTING_TOO_DEEP"


def test_json_depth_ignores_brackets_inside_strings():
    assert json_depth(b'{"a": "[[[[[[[[", "b": [1, {"c": "\\"]]]"}]}') == 3


def test_ten_megabyte_body_is_413_json(client):
    response = client.post(
        "/api/v1/auth/register",
        data=b'{"email": "' + b"a" * 10_000_000 + b'"}',
        content_type="application/json",
    )

    assert response.status_code == 413
    assert code(response) == "REQUEST_BODY_TOO_LARGE"


def test_deep_json_to_a_webhook_with_a_valid_signature_is_refused_and_stores_nothing(
    client,
):
    config = PSPConfigFactory()
    body = deep(100_000)

    response = client.post(
        f"/api/v1/webhooks/stripe/{config.endpoint_id}/",
        data=body,
        content_type="application/json",
        **signed_headers(body, config.webhook_secret()),
    )

    assert response.status_code == 400
    assert code(response) == "REQUEST_NESTING_TOO_DEEP"
    assert WebhookInbox.objects.count() == 0


def test_nul_in_a_webhook_body_is_400_and_stores_nothing(client):
    config = PSPConfigFactory()
    body = b'{"id": "evt_\\u0000", "type": "checkout.session.completed"}'

    response = client.post(
        f"/api/v1/webhooks/stripe/{config.endpoint_id}/",
        data=body,
        content_type="application/json",
        **signed_headers(body, config.webhook_secret()),
    )

    assert (response.status_code, code(response)) == (400, "INVALID_TEXT")
    assert WebhookInbox.objects.count() == 0


def test_html_body_on_a_webhook_is_a_json_4xx(client):
    config = PSPConfigFactory()

    response = client.post(
        f"/api/v1/webhooks/stripe/{config.endpoint_id}/",
        data=b"<html><body>" + b"x" * 2_000_000 + b"</body></html>",
        content_type="text/html",
    )

    assert response.status_code == 413
    assert response["Content-Type"] == "application/json"


def test_nul_in_a_session_cookie_is_400(client):
    client.cookies["sessionid"] = "abcdefgh\x00ijkl"

    response = client.get("/login/")

    assert (response.status_code, code(response)) == (400, "INVALID_TEXT")


def test_ordinary_requests_pass_the_edge(client):
    response = client.get("/api/v1/me", HTTP_X_TENANT="nobrand")

    assert code(response) == "TENANT_NOT_FOUND"


def test_the_api_parser_bounds_depth_even_without_the_middleware():
    tenant = TenantFactory()
    request = APIRequestFactory().post(
        "/api/v1/auth/login",
        data=deep(50_000),
        content_type="application/json",
        HTTP_X_TENANT=tenant.slug,
    )

    response = PlayerLoginApi.as_view()(request)

    assert response.status_code == 400
    assert response.data["error"]["code"] == "REQUEST_NESTING_TOO_DEEP"


def test_the_api_parser_still_parses_ordinary_json(client):
    player = PlayerFactory(email="ok@example.com")

    response = client.post(
        "/api/v1/auth/login",
        data=json.dumps(
            {"email": "ok@example.com", "password": "correct-horse-battery"}
        ),
        content_type="application/json",
        HTTP_X_TENANT=player.tenant.slug,
    )

    assert response.status_code == 200
