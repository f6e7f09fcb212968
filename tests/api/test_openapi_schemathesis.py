"""schemathesis over the served OpenAPI schema (``/api/schema/``), in process.

The schema is fetched from the running WSGI application as a client would fetch it,
then every player operation under ``/api/v1/`` (the operator CRM API and the PSP
webhooks are not player endpoints) is called with generated requests, valid and
invalid, as a signed-in player of a brand: ``X-Tenant`` plus a Bearer token. Each
example gets a fresh token, so an example that logs out does not turn every later
one into a 401. Deposits go to the local fake Stripe (tests/payments/fake_stripe.py),
never to the network.

Each response must: not be a 5xx; have a status code the schema documents for that
operation; have the documented content type; and match the documented body schema
(the error body is the shared ``Error`` component, its ``code`` one of the registry's:
common/openapi.py). ``SCHEMATHESIS_MAX_EXAMPLES`` (default 12 per operation, about a
minute here) raises the budget for a long run (docs/testing.md).
"""

from __future__ import annotations

import os
import re

import pytest
import schemathesis
from django.core.wsgi import get_wsgi_application
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from tests.factories import PlayerFactory, TenantFactory, fund, token_for
from tests.payments.factories import PSPConfigFactory
from tests.payments.fake_stripe import FakeStripeServer

MAX_EXAMPLES = int(os.environ.get("SCHEMATHESIS_MAX_EXAMPLES", "12"))
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]
PLAYER_OPERATIONS = r"^/api/v1/(?!crm/|webhooks/)"


@pytest.fixture
def _connection_kept_across_wsgi_requests():
    """A real WSGI request ends with ``close_old_connections``, which closes the
    test's connection (and its rolled-back transaction) on PostgreSQL; Django's
    own test client disconnects it the same way for the duration of a request."""
    from django.core import signals
    from django.db import close_old_connections

    signals.request_started.disconnect(close_old_connections)
    signals.request_finished.disconnect(close_old_connections)
    yield
    signals.request_started.connect(close_old_connections)
    signals.request_finished.connect(close_old_connections)


@pytest.fixture
def brand_player(db, settings, _connection_kept_across_wsgi_requests):
    with FakeStripeServer() as fake:
        settings.STRIPE_API_BASE = fake.url
        settings.STRIPE_MAX_NETWORK_RETRIES = 0
        tenant = TenantFactory(slug="alpha")
        PSPConfigFactory(tenant=tenant)
        player = PlayerFactory(tenant=tenant)
        fund(player, 50_000, "EUR")
        yield player


def _player_operations() -> list[tuple[str, str]]:
    """(METHOD, path) of every player operation, from the same generator that serves
    ``/api/schema/`` (no database needed), so a new endpoint is fuzzed without
    editing this file."""
    from drf_spectacular.generators import SchemaGenerator

    spec = SchemaGenerator().get_schema(request=None, public=True)
    return sorted(
        (method.upper(), path)
        for path, item in spec["paths"].items()
        if re.match(PLAYER_OPERATIONS, path)
        for method in item
        if method in ("get", "post", "put", "patch", "delete")
    )


def _served_schema(player):
    """The schema as a client gets it: fetched over WSGI with the player's token."""
    headers = {
        "X-Tenant": player.tenant.slug,
        "Authorization": f"Bearer {token_for(player)}",
    }
    return schemathesis.openapi.from_wsgi(
        "/api/schema/?format=json", get_wsgi_application(), headers=headers
    )


@pytest.mark.parametrize(("method", "path"), _player_operations())
def test_every_player_operation_conforms_to_the_served_schema(
    method, path, brand_player
):
    operation = _served_schema(brand_player)[path][method]

    @given(case=operation.as_strategy())
    @settings(
        max_examples=MAX_EXAMPLES,
        deadline=None,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    def call_and_check(case):
        case.headers = {
            **(case.headers or {}),
            "X-Tenant": brand_player.tenant.slug,
            "Authorization": f"Bearer {token_for(brand_player)}",
        }
        response = case.call()
        case.validate_response(response, checks=CHECKS)

    call_and_check()


def test_schema_answers_a_signed_in_player(api_client, brand_player):
    token = token_for(brand_player)
    for headers in (
        {"HTTP_AUTHORIZATION": f"Bearer {token}"},
        {"HTTP_AUTHORIZATION": f"Bearer {token}", "HTTP_X_TENANT": "alpha"},
        {"HTTP_AUTHORIZATION": "Bearer not-a-token"},
    ):
        response = api_client.get("/api/schema/", {"format": "json"}, **headers)

        assert response.status_code == 200, headers
        assert "/api/v1/me" in response.json()["paths"]


def test_lists_and_balances_are_documented_as_they_are_returned(api_client):
    spec = api_client.get("/api/schema/", {"format": "json"}).json()
    schemas = spec["components"]["schemas"]

    for path, component in (
        ("/api/v1/withdrawals", "WithdrawalPage"),
        ("/api/v1/deposits", "DepositPage"),
        ("/api/v1/wallet/transactions", "WalletHistoryPage"),
    ):
        ok = spec["paths"][path]["get"]["responses"]["200"]
        assert ok["content"]["application/json"]["schema"]["$ref"].endswith(component)
        assert set(schemas[component]["properties"]) == {"next", "previous", "results"}
    assert set(schemas["BalanceList"]["properties"]) == {"balances"}


def test_every_player_operation_documents_the_registered_error_body(api_client):
    from common import errors

    spec = api_client.get("/api/schema/", {"format": "json"}).json()
    error = spec["components"]["schemas"]["Error"]["properties"]["error"]

    assert set(error["properties"]["code"]["enum"]) == set(errors.registry())
    me = spec["paths"]["/api/v1/me"]["get"]["responses"]
    assert {"400", "401", "404", "429"} <= set(me)
    assert me["401"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/Error"
    }


def test_an_unmatched_api_url_answers_the_json_not_found(api_client):
    response = api_client.get("/api/v1/withdrawals/-1")

    assert response.status_code == 404
    assert response.json()["error"]["code"] == "NOT_FOUND"


def test_an_accept_header_the_docs_page_cannot_serve_is_a_406_not_a_500(client):
    # Found by tests/common/test_fuzz_anonymous.py: DRF's NotAcceptable was unmapped.
    get = client.get("/api/docs/", HTTP_ACCEPT="")
    # The docs page answers GET only (issue 9): another method is a 405 first.
    post = client.post(
        "/api/docs/", b"", content_type="application/json", HTTP_ACCEPT=""
    )

    assert (get.status_code, post.status_code) == (406, 405)
