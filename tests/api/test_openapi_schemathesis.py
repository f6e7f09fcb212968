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

The stateful run follows the schema's OpenAPI links (common/openapi.py,
``add_player_links``) through the money chain: register → log in → start a deposit
→ read it, withdraw it → read, cancel or retry the withdrawal. Links carry the brand
(``X-Tenant``) and the ids; the token is taken from the login answer by the state
machine, as a client does (a link cannot fill ``Authorization``). A started deposit
is paid by Stripe's signed event, handed to the real webhook view, so the
withdrawal after it has money to take. ``SCHEMATHESIS_STATEFUL_SCENARIOS`` ×
``SCHEMATHESIS_STATEFUL_STEPS`` bound it (default 25 × 10).
"""

from __future__ import annotations

import os
import re
from collections import Counter

import pytest
import schemathesis
from django.core.wsgi import get_wsgi_application
from hypothesis import HealthCheck, Phase, given, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from payments.simulator.events import deliver, event_for
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
STATEFUL_SCENARIOS = int(os.environ.get("SCHEMATHESIS_STATEFUL_SCENARIOS", "25"))
STATEFUL_STEPS = int(os.environ.get("SCHEMATHESIS_STATEFUL_STEPS", "10"))
LONG_RUN = "SCHEMATHESIS_STATEFUL_SCENARIOS" in os.environ
# The operations the links chain together (common/openapi.py, _PLAYER_LINKS).
CHAIN_OPERATIONS = (
    r"^/api/v1/(auth/register|auth/login|me|wallet/balances"
    r"|deposits(/\{deposit_id\})?|withdrawals(/\{withdrawal_id\}(/cancel|/retry)?)?)$"
)


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
        # The fake takes the brand's key: a deposit the API accepts is opened at
        # the PSP (an unknown key would be Stripe's 401, our 502: a 5xx).
        fake.valid_keys.add(PSPConfigFactory(tenant=tenant).secret_key())
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


@pytest.fixture
def chain_brand(db, settings, _connection_kept_across_wsgi_requests):
    """A brand whose players may withdraw without KYC (the KYC rule has its own
    tests), at the local fake Stripe, with rate limits off so a scenario's steps are
    not spent on 429s (they are documented and have their own tests)."""
    from tenants.models import TenantPolicy

    with FakeStripeServer() as fake:
        settings.STRIPE_API_BASE = fake.url
        settings.STRIPE_MAX_NETWORK_RETRIES = 0
        settings.RATELIMIT_ENABLE = False
        config = PSPConfigFactory(tenant=TenantFactory(slug="chain"))
        fake.valid_keys.add(config.secret_key())
        TenantPolicy.objects.filter(tenant=config.tenant).update(
            kyc_required_for_withdrawal=False
        )
        player = PlayerFactory(tenant=config.tenant)
        fund(player, 50_000, "EUR")
        yield config, player


def _stripe_pays(config, deposit_id: int) -> None:
    """The PSP's signed ``checkout.session.completed`` for a started deposit, handed
    to the real webhook view (which verifies it). Not through Django's test client:
    it reconnects ``close_old_connections``, which would close the test's
    connection on the next WSGI request."""
    from wallet.models import Deposit

    deposit = Deposit.objects.get(pk=deposit_id)
    delivered = deliver(
        config=config, event=event_for(deposit, "checkout.session.completed")
    )
    assert delivered.status_code == 200, delivered.content


# A bank account the API accepts: the stateless run sends arbitrary destinations;
# here a withdrawal should get far enough to be read, cancelled or retried.
BANK_ACCOUNT = {
    "type": "iban",
    "iban": "DE89370400440532013000",
    "holder_name": "Ann Example",
}


def test_the_players_money_chain_follows_the_schemas_links(chain_brand):
    config, signed_in = chain_brand
    # The lists are not links of the chain (the stateless run covers them): left
    # out, they do not spend a scenario's steps.
    schema = (
        _served_schema(signed_in)
        .include(path_regex=CHAIN_OPERATIONS)
        .exclude(method="GET", path_regex=r"^/api/v1/(deposits|withdrawals)$")
    )
    followed: list[str] = []
    registrations: list[str] = []

    class PlayerChain(schema.as_state_machine()):
        """The player a scenario acts as: a signed-in one until a login answers,
        then the one who logged in (its token from the answer)."""

        def setup(self):
            self.token = token_for(signed_in)

        def before_call(self, case):
            case.headers = {
                **(case.headers or {}),
                "X-Tenant": config.tenant.slug,
                "Authorization": f"Bearer {self.token}",
            }
            body = case.body
            if not isinstance(body, dict):
                return
            if case.operation.label == "POST /api/v1/withdrawals":
                case.body = {**body, "destination": BANK_ACCOUNT}
            email = body.get("email")
            if case.operation.label == "POST /api/v1/auth/register" and (
                isinstance(email, str) and "@" in email
            ):
                # A new address each time: registering a taken one answers the same
                # 201 (no account enumeration), and its login would then be a 401.
                registrations.append(email)
                case.body = {**body, "email": f"r{len(registrations)}.{email}"}

        def after_call(self, response, case):
            super().after_call(response, case)
            code = ""
            if response.status_code >= 400:
                code = (response.json().get("error") or {}).get("code", "")
            followed.append(f"{case.operation.label} {response.status_code} {code}")
            if case.operation.label == "POST /api/v1/auth/login" and (
                response.status_code == 200
            ):
                self.token = response.json()["token"]
            if case.operation.label == "POST /api/v1/deposits" and (
                response.status_code == 201
            ):
                _stripe_pays(config, response.json()["id"])

        def validate_response(self, response, case, **kwargs):
            case.validate_response(response, checks=CHECKS)

    PlayerChain.run(
        settings=settings(
            max_examples=STATEFUL_SCENARIOS,
            stateful_step_count=STATEFUL_STEPS,
            phases=[Phase.generate],
            deadline=None,
            database=None,
            suppress_health_check=list(HealthCheck),
            # The same scenarios on every CI run (a failure is the code's, not the
            # draw's); the long mode draws new ones.
            derandomize=not LONG_RUN,
        )
    )

    print(Counter(followed).most_common())  # what the run reached (pytest -s)
    # The links were followed, not only the roots: a registration was logged in
    # with, and the logged-in player's calls answered.
    assert Counter(followed)["POST /api/v1/auth/login 200 "] >= 1
    assert Counter(followed)["POST /api/v1/auth/register 201 "] >= 1


def test_the_served_schema_links_register_login_deposit_and_withdrawal(api_client):
    spec = api_client.get("/api/schema/", {"format": "json"}).json()
    paths = spec["paths"]

    def links(path, method, status):
        return paths[path][method]["responses"][status]["links"]

    register = links("/api/v1/auth/register", "post", "201")["LogIn"]
    deposit = links("/api/v1/deposits", "post", "201")
    withdrawal = links("/api/v1/withdrawals", "post", "201")

    assert register["operationId"] == paths["/api/v1/auth/login"]["post"]["operationId"]
    assert register["requestBody"] == {
        "email": "$request.body#/email",
        "password": "$request.body#/password",
    }
    assert set(links("/api/v1/auth/login", "post", "200")) >= {
        "StartDeposit",
        "RequestWithdrawal",
    }
    assert deposit["GetDeposit"]["parameters"]["path.deposit_id"] == (
        "$response.body#/id"
    )
    assert set(withdrawal) == {"GetWithdrawal", "CancelWithdrawal", "RetryWithdrawal"}
    assert all(
        link["parameters"]["header.X-Tenant"] == "$request.header.X-Tenant"
        for link in [register, *deposit.values(), *withdrawal.values()]
    )
