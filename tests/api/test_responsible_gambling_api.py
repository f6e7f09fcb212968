"""The player API for deposit limits, time-outs, self-exclusions and the play gate."""

import pytest

from audit.models import AuditEvent

pytestmark = pytest.mark.django_db

LIMITS = "/api/v1/responsible-gambling/deposit-limits"


def put(client, path, body):
    return client.api_client.put(path, body, format="json", **client.headers())


def test_a_player_sets_and_sees_a_daily_limit(client_a):
    response = put(client_a, f"{LIMITS}/EUR/day", {"amount": "50.00"})
    assert response.status_code == 200
    body = response.json()
    assert (body["amount_minor"], body["amount"], body["remaining"]) == (
        5_000,
        "50.00",
        "50.00",
    )
    overview = client_a.get("/api/v1/responsible-gambling").json()
    assert overview["play_allowed"] is True
    assert overview["deposit_limits"][0]["period"] == "day"


def test_an_increase_is_pending_and_an_early_confirmation_is_409(client_a, clock):
    put(client_a, f"{LIMITS}/EUR/week", {"amount": "50.00"})
    body = put(client_a, f"{LIMITS}/EUR/week", {"amount": "80.00"}).json()
    assert body["amount"] == "50.00"
    assert body["pending"]["amount"] == "80.00"
    early = client_a.post(f"{LIMITS}/EUR/week/confirm", {})
    assert early.status_code == 409
    assert early.json()["error"]["code"] == "DEPOSIT_LIMIT_COOLING_OFF"
    assert early["Retry-After"] == str(24 * 3600)
    clock.advance(seconds=24 * 3600)
    done = client_a.post(f"{LIMITS}/EUR/week/confirm", {})
    assert done.status_code == 200
    assert done.json()["amount"] == "80.00"


@pytest.mark.parametrize(
    "path,body",
    [
        (f"{LIMITS}/EUR/year", {"amount": "1.00"}),
        (f"{LIMITS}/XXX/day", {"amount": "1.00"}),
        (f"{LIMITS}/EUR/day", {"amount": "-1"}),
        (f"{LIMITS}/EUR/day", {"amount": "1.001"}),
        (f"{LIMITS}/EUR/day", {}),
        (f"{LIMITS}/EUR/day", {"amount": "ten"}),
    ],
)
def test_bad_limit_requests_are_clear_4xx_and_change_nothing(client_a, path, body):
    response = put(client_a, path, body)
    assert 400 <= response.status_code < 500
    assert "code" in response.json()["error"]
    assert not AuditEvent.objects.filter(action__startswith="player.deposit").exists()


def test_a_time_out_closes_play_and_deposits_but_not_the_cashier(client_a):
    response = client_a.post("/api/v1/responsible-gambling/time-out", {"hours": 24})
    assert response.status_code == 201
    assert response.json()["kind"] == "time_out"
    gate = client_a.get("/api/v1/play-access")
    assert gate.status_code == 403
    assert gate.json()["error"]["code"] == "PLAYER_EXCLUDED"
    assert client_a.get("/api/v1/wallet/balances").status_code == 200
    assert client_a.get("/api/v1/responsible-gambling").json()["play_allowed"] is False


def test_a_self_exclusion_cannot_be_replaced_by_a_time_out(client_a):
    first = client_a.post(
        "/api/v1/responsible-gambling/self-exclusion", {"permanent": True}
    )
    assert first.status_code == 201 and first.json()["permanent"] is True
    second = client_a.post("/api/v1/responsible-gambling/time-out", {"hours": 48})
    assert second.status_code == 409
    assert second.json()["error"]["code"] == "EXCLUSION_CANNOT_BE_SHORTENED"


@pytest.mark.parametrize(
    "body", [{"months": 5}, {}, {"months": 6, "permanent": True}, {"months": "x"}]
)
def test_bad_self_exclusions_are_400(client_a, body):
    response = client_a.post("/api/v1/responsible-gambling/self-exclusion", body)
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "VALIDATION_ERROR"


def test_login_says_whether_play_is_allowed(api_client, client_a, player_a):
    client_a.post("/api/v1/responsible-gambling/time-out", {"hours": 24})
    response = api_client.post(
        "/api/v1/auth/login",
        {"email": "ann@example.com", "password": "correct-horse-battery"},
        format="json",
        HTTP_X_TENANT=player_a.tenant.slug,
    )
    assert response.status_code == 200
    assert response.json()["play_allowed"] is False
    assert response.json()["exclusion"]["kind"] == "time_out"


def test_the_endpoints_need_a_token(api_client, tenant_a):
    response = api_client.get("/api/v1/responsible-gambling", HTTP_X_TENANT="alpha")
    assert response.status_code == 401


def test_a_token_of_brand_a_cannot_set_limits_or_exclusions_on_brand_b(
    client_a, tenant_b
):
    headers = client_a.headers(tenant_b)
    limit = client_a.api_client.put(
        f"{LIMITS}/EUR/day", {"amount": "1.00"}, format="json", **headers
    )
    time_out = client_a.post(
        "/api/v1/responsible-gambling/time-out", {"hours": 24}, tenant=tenant_b
    )
    assert (limit.status_code, time_out.status_code) == (404, 404)
    assert (
        not AuditEvent.objects.filter(action__startswith="player.")
        .exclude(action="player.registered")
        .exists()
    )


def test_removing_a_limit_never_set_answers_no_limit(client_a):
    response = put(client_a, f"{LIMITS}/EUR/month", {"amount": None})
    assert response.status_code == 200
    assert response.json()["amount"] is None
    assert response.json()["pending"] is None
