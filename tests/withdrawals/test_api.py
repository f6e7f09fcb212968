"""The player API for withdrawals: codes, statuses, idempotency, tenant isolation."""

import pytest

from audit.models import AuditEvent
from casino.models import Player
from tests.factories import PlayerFactory, TenantFactory, token_for
from tests.withdrawals.factories import (
    DESTINATION,
    IBAN,
    policy_set,
    verified_player,
    withdrawal_payout_failed_once,
    withdrawal_payout_pending,
    withdrawal_requested,
)
from wallet.models import Hold, JournalTransaction, PayoutAttempt, Withdrawal
from wallet.selectors import balance_list

pytestmark = pytest.mark.django_db


def call(api_client, player, method, url, body=None, key=None, tenant=None):
    headers = {
        "HTTP_X_TENANT": (tenant or player.tenant).slug,
        "HTTP_AUTHORIZATION": f"Bearer {token_for(player)}",
    }
    if key:
        headers["HTTP_IDEMPOTENCY_KEY"] = key
    return getattr(api_client, method)(url, body, format="json", **headers)


def request_body(amount="20.00", currency="EUR", destination=DESTINATION):
    return {"amount": amount, "currency": currency, "destination": destination}


def snapshot():
    """Everything a refusal must leave untouched."""
    return (
        Withdrawal.objects.count(),
        PayoutAttempt.objects.count(),
        Hold.objects.count(),
        JournalTransaction.objects.count(),
        AuditEvent.objects.exclude(action="withdrawal.payout_retry_blocked").count(),
        [
            (b.available_minor, b.held_minor)
            for p in Player.objects.all()
            for b in balance_list(player=p)
        ],
    )


def test_create_returns_201_with_the_masked_destination(api_client):
    player = verified_player(balance_minor=10_000)
    response = call(
        api_client, player, "post", "/api/v1/withdrawals", request_body(), key="w-1"
    )
    assert response.status_code == 201
    body = response.json()
    assert body["state"] == "requested"
    assert (body["amount"], body["amount_minor"], body["currency"]) == (
        "20.00",
        2_000,
        "EUR",
    )
    assert body["destination"] == "DE89 •••• 3000"
    assert IBAN not in response.content.decode()


def test_a_replay_with_the_same_key_answers_the_first_result(api_client):
    """Issue 8, defect 15: one replay contract everywhere (the deposit door answered
    201, this one 200): the first status, marked Idempotent-Replayed."""
    player = verified_player(balance_minor=10_000)
    first = call(
        api_client, player, "post", "/api/v1/withdrawals", request_body(), key="w-1"
    )
    again = call(
        api_client, player, "post", "/api/v1/withdrawals", request_body(), key="w-1"
    )
    assert first.status_code == again.status_code == 201
    assert again["Idempotent-Replayed"] == "true"
    assert not first.has_header("Idempotent-Replayed")
    assert again.json()["id"] == first.json()["id"]
    assert balance_list(player=player)[0].held_minor == 2_000


def test_the_same_key_with_another_amount_is_409(api_client):
    player = verified_player(balance_minor=10_000)
    call(api_client, player, "post", "/api/v1/withdrawals", request_body(), key="w-1")
    response = call(
        api_client,
        player,
        "post",
        "/api/v1/withdrawals",
        request_body(amount="30.00"),
        key="w-1",
    )
    assert response.status_code == 409
    assert response.json()["error"]["code"] == "IDEMPOTENCY_KEY_REUSE_CONFLICT"


def test_list_and_detail_show_only_the_players_own_withdrawals(api_client):
    player = verified_player()
    neighbour = verified_player(tenant=player.tenant)
    own = withdrawal_requested(player)
    theirs = withdrawal_requested(neighbour)
    listed = call(api_client, player, "get", "/api/v1/withdrawals")
    assert [row["id"] for row in listed.json()["results"]] == [own.pk]
    detail = call(api_client, player, "get", f"/api/v1/withdrawals/{own.pk}")
    assert detail.status_code == 200
    other = call(api_client, player, "get", f"/api/v1/withdrawals/{theirs.pk}")
    assert other.status_code == 404
    assert other.json()["error"]["code"] == "NOT_FOUND"


@pytest.mark.parametrize(
    ("method", "suffix"),
    [("get", ""), ("post", "/cancel"), ("post", "/retry")],
)
def test_another_brands_withdrawal_is_404_on_every_endpoint(api_client, method, suffix):
    victim = verified_player()
    withdrawal = withdrawal_requested(victim)
    intruder = verified_player(tenant=TenantFactory())
    response = call(
        api_client, intruder, method, f"/api/v1/withdrawals/{withdrawal.pk}{suffix}"
    )
    assert response.status_code == 404
    withdrawal.refresh_from_db()
    assert withdrawal.state == Withdrawal.State.REQUESTED


def test_a_token_used_on_another_brand_is_404_on_create(api_client):
    player = verified_player()
    other = TenantFactory()
    response = call(
        api_client,
        player,
        "post",
        "/api/v1/withdrawals",
        request_body(),
        key="w-1",
        tenant=other,
    )
    assert response.status_code == 404
    assert Withdrawal.objects.count() == 0


def test_cancel_while_requested_then_again_is_idempotent(api_client):
    player = verified_player(balance_minor=10_000)
    withdrawal = withdrawal_requested(player)
    url = f"/api/v1/withdrawals/{withdrawal.pk}/cancel"
    first = call(api_client, player, "post", url)
    second = call(api_client, player, "post", url)
    assert (first.status_code, second.status_code) == (200, 200)
    assert second.json()["state"] == "canceled"
    assert balance_list(player=player)[0].available_minor == 10_000
    assert AuditEvent.objects.filter(action="withdrawal.canceled").count() == 1


def test_cancel_after_approval_is_409_with_the_states(api_client):
    player = verified_player()
    withdrawal = withdrawal_payout_pending(player)
    response = call(
        api_client, player, "post", f"/api/v1/withdrawals/{withdrawal.pk}/cancel"
    )
    assert response.status_code == 409
    assert response.json()["error"] == {
        "code": "ILLEGAL_TRANSACTION_STATE_TRANSITION",
        "message": "withdrawal cannot go from payout_pending to canceled.",
        "details": {
            "entity": "withdrawal",
            "from_state": "payout_pending",
            "to_state": "canceled",
        },
    }


def test_player_retry_when_the_brand_allows_it(api_client, clock):
    player = verified_player()
    policy_set(player.tenant, player_may_retry_payout=True, payout_cooldown_seconds=0)
    withdrawal = withdrawal_payout_failed_once(player)
    url = f"/api/v1/withdrawals/{withdrawal.pk}/retry"
    first = call(api_client, player, "post", url)
    second = call(api_client, player, "post", url)
    assert first.status_code == 200
    assert first.json()["state"] == "payout_pending"
    assert [a["number"] for a in first.json()["attempts"]] == [1, 2]
    assert second.status_code == 409
    assert withdrawal.attempts.count() == 2
    assert AuditEvent.objects.filter(action="withdrawal.payout_retried").count() == 1


# --- every refusal: its code, its status, and nothing moved -------------------------


def _kill_switch(player):
    policy_set(player.tenant, withdrawals_enabled=False)


def _frozen(player):
    Player.objects.filter(pk=player.pk).update(withdrawals_frozen=True)


def _unverified(player):
    Player.objects.filter(pk=player.pk).update(kyc_status="pending")


def _minimum(player):
    policy_set(player.tenant, withdrawal_min_amounts={"EUR": 5_000})


def _maximum(player):
    policy_set(player.tenant, withdrawal_max_amounts={"EUR": 1_000})


def _daily(player):
    policy_set(player.tenant, daily_withdrawal_limits={"EUR": 1_000})


def _velocity(player):
    policy_set(player.tenant, withdrawal_velocity_max_requests=0)


def _poor(player):
    pass


REFUSALS = [
    (_kill_switch, request_body(), 503, "MODULE_TEMPORARILY_DISABLED"),
    (_frozen, request_body(), 403, "WITHDRAWALS_FROZEN"),
    (_unverified, request_body(), 403, "KYC_REQUIRED_FOR_WITHDRAWAL"),
    (_minimum, request_body(), 422, "WITHDRAWAL_AMOUNT_BELOW_MINIMUM"),
    (_maximum, request_body(), 422, "WITHDRAWAL_AMOUNT_ABOVE_MAXIMUM"),
    (_daily, request_body(), 422, "LIMIT_EXCEEDED"),
    (_velocity, request_body(), 429, "VELOCITY_LIMIT_EXCEEDED"),
    (_poor, request_body(amount="1000.00"), 400, "INSUFFICIENT_FUNDS"),
    (_poor, request_body(amount="1.001"), 400, "INVALID_AMOUNT"),
    (_poor, request_body(currency="XXX"), 400, "CURRENCY_NOT_SUPPORTED"),
    (_poor, request_body(currency="JPY"), 400, "CURRENCY_NOT_ALLOWED"),
    (_poor, request_body(amount="0"), 400, "VALIDATION_ERROR"),
    (
        _poor,
        request_body(destination={"iban": "DE00123", "holder_name": "A"}),
        400,
        "INVALID_PAYOUT_DESTINATION",
    ),
]


@pytest.mark.parametrize(
    ("arrange", "body", "status", "code"),
    REFUSALS,
    ids=[refusal[3] + "-" + refusal[0].__name__ for refusal in REFUSALS],
)
def test_every_withdrawal_refusal_has_its_code_and_status_and_moves_nothing(
    api_client, arrange, body, status, code
):
    player = verified_player(balance_minor=10_000)
    arrange(player)
    before = snapshot()
    response = call(api_client, player, "post", "/api/v1/withdrawals", body, key="r-1")
    assert response.status_code == status
    assert response.json()["error"]["code"] == code
    assert snapshot() == before


def test_limit_exceeded_body_names_limit_used_attempted_remaining(api_client):
    player = verified_player(balance_minor=10_000)
    _daily(player)
    response = call(
        api_client, player, "post", "/api/v1/withdrawals", request_body(), key="r-1"
    )
    details = response.json()["error"]["details"]
    assert (details["limit"], details["used"], details["attempted"]) == (1000, 0, 2000)
    assert details["remaining"] == 1000


def test_velocity_refusal_carries_retry_after(api_client):
    player = verified_player(balance_minor=10_000)
    _velocity(player)
    response = call(
        api_client, player, "post", "/api/v1/withdrawals", request_body(), key="r-1"
    )
    assert response["Retry-After"] == "3600"


def test_a_missing_idempotency_key_is_refused(api_client):
    player = verified_player()
    response = call(api_client, player, "post", "/api/v1/withdrawals", request_body())
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "IDEMPOTENCY_KEY_REQUIRED"
    assert Withdrawal.objects.count() == 0


RETRY_REFUSALS = [
    ({"player_may_retry_payout": False}, 0, 403, "PAYOUT_RETRY_NOT_ALLOWED"),
    (
        {"player_may_retry_payout": True, "payout_retry_limit": 0},
        0,
        422,
        "PAYMENT_RETRY_LIMIT_EXCEEDED",
    ),
    (
        {"player_may_retry_payout": True, "payout_cooldown_seconds": 60},
        59,
        429,
        "PAYMENT_COOLDOWN_ACTIVE",
    ),
]


@pytest.mark.parametrize(
    ("policy", "wait", "status", "code"),
    RETRY_REFUSALS,
    ids=[refusal[3] for refusal in RETRY_REFUSALS],
)
def test_every_retry_refusal_has_its_code_and_status_moves_nothing_and_is_audited(
    api_client, clock, policy, wait, status, code
):
    player = verified_player()
    policy_set(player.tenant, **policy)
    withdrawal = withdrawal_payout_failed_once(player)
    clock.advance(seconds=wait)
    before = snapshot()
    response = call(
        api_client, player, "post", f"/api/v1/withdrawals/{withdrawal.pk}/retry"
    )
    assert response.status_code == status
    assert response.json()["error"]["code"] == code
    assert snapshot() == before
    blocked = AuditEvent.objects.get(action="withdrawal.payout_retry_blocked")
    assert blocked.after["code"] == code


def test_cooldown_refusal_carries_retry_after(api_client, clock):
    player = verified_player()
    policy_set(player.tenant, player_may_retry_payout=True, payout_cooldown_seconds=60)
    withdrawal = withdrawal_payout_failed_once(player)
    clock.advance(seconds=45)
    response = call(
        api_client, player, "post", f"/api/v1/withdrawals/{withdrawal.pk}/retry"
    )
    assert response.status_code == 429
    assert response["Retry-After"] == "15"


def test_an_unauthenticated_request_is_401(api_client):
    player = PlayerFactory()
    response = api_client.get("/api/v1/withdrawals", HTTP_X_TENANT=player.tenant.slug)
    assert response.status_code == 401


def test_a_retry_repeated_with_its_idempotency_key_answers_the_first_result(
    api_client, clock
):
    """Issue 8, defect 7: retry takes an Idempotency-Key; a repeat answers the first
    result (200, marked replayed) instead of 409, and makes no second attempt."""
    player = verified_player()
    policy_set(player.tenant, player_may_retry_payout=True, payout_cooldown_seconds=0)
    withdrawal = withdrawal_payout_failed_once(player)
    url = f"/api/v1/withdrawals/{withdrawal.pk}/retry"
    first = call(api_client, player, "post", url, key="retry-1")
    second = call(api_client, player, "post", url, key="retry-1")
    assert (first.status_code, second.status_code) == (200, 200)
    assert second["Idempotent-Replayed"] == "true"
    assert second.json()["id"] == first.json()["id"]
    assert withdrawal.attempts.count() == 2


def test_a_blocked_player_cannot_request_a_withdrawal(api_client):
    """Issue 8, defect 10: the blocked-player rule was not in withdrawal_request."""
    from tests.withdrawals.factories import withdrawal_requested as request

    player = verified_player(balance_minor=10_000)
    Player.objects.filter(pk=player.pk).update(status=Player.Status.BLOCKED)
    player.refresh_from_db()
    with pytest.raises(Exception) as refused:
        request(player)
    assert refused.value.code == "PLAYER_BLOCKED"
    assert not Withdrawal.objects.exists()
