"""POST/GET /api/v1/deposits with the real Stripe client talking to a local fake."""

import pytest

from payments.models import PSPConfig
from tenants.models import TenantPolicy
from tests.factories import PlayerFactory, TenantFactory, token_for
from tests.payments.factories import PSPConfigFactory, pending_deposit
from wallet.models import Deposit, JournalTransaction

pytestmark = pytest.mark.django_db


@pytest.fixture
def player(fake_stripe):
    config = PSPConfigFactory()
    fake_stripe.valid_keys.add(config.secret_key())
    return PlayerFactory(tenant=config.tenant)


def auth(player, key="key-1"):
    headers = {
        "HTTP_X_TENANT": player.tenant.slug,
        "HTTP_AUTHORIZATION": f"Bearer {token_for(player)}",
    }
    if key:
        headers["HTTP_IDEMPOTENCY_KEY"] = key
    return headers


def create(api_client, player, body=None, key="key-1"):
    return api_client.post(
        "/api/v1/deposits",
        body or {"amount": "50.00", "currency": "EUR"},
        format="json",
        **auth(player, key),
    )


def test_deposit_opens_a_stripe_checkout_and_credits_nothing_yet(
    api_client, player, fake_stripe
):
    response = create(api_client, player)
    assert response.status_code == 201
    body = response.json()
    assert body["state"] == "pending_provider"
    assert body["amount"] == "50.00"
    assert body["amount_minor"] == 5000
    assert body["checkout_url"].startswith("https://checkout.stripe.com/c/pay/cs_test_")
    deposit = Deposit.objects.get(pk=body["id"])
    assert deposit.provider_reference.startswith("cs_test_")
    assert not JournalTransaction.objects.exists()
    assert fake_stripe.last("/v1/checkout/sessions").form["mode"] == "payment"


def test_same_key_and_body_returns_the_same_deposit_and_url(
    api_client, player, fake_stripe
):
    first = create(api_client, player).json()
    second = create(api_client, player).json()
    assert second["id"] == first["id"]
    assert second["checkout_url"] == first["checkout_url"]
    assert Deposit.objects.count() == 1
    assert len([r for r in fake_stripe.requests if r.method == "POST"]) == 1


def test_same_key_with_another_body_is_409(api_client, player):
    create(api_client, player)
    response = create(api_client, player, {"amount": "60.00", "currency": "EUR"})
    assert response.status_code == 409
    assert response.json()["error"]["code"] == "IDEMPOTENCY_KEY_REUSE_CONFLICT"
    assert Deposit.objects.count() == 1


def test_missing_idempotency_key_is_400(api_client, player):
    response = create(api_client, player, key=None)
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "IDEMPOTENCY_KEY_REQUIRED"
    assert not Deposit.objects.exists()


def test_kill_switch_refuses_deposits_with_503(api_client, player, fake_stripe):
    TenantPolicy.objects.filter(tenant=player.tenant).update(deposits_enabled=False)
    response = create(api_client, player)
    assert response.status_code == 503
    assert response.json()["error"]["code"] == "MODULE_TEMPORARILY_DISABLED"
    assert not Deposit.objects.exists()
    assert fake_stripe.requests == []


def test_currency_the_brand_does_not_take_is_refused(api_client, player):
    """Issue 8, defect 10: one rule, one code for deposits and withdrawals."""
    response = create(api_client, player, {"amount": "50", "currency": "GBP"})
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "CURRENCY_NOT_ALLOWED"


def test_more_decimals_than_the_currency_has_is_refused(api_client, player):
    response = create(api_client, player, {"amount": "50.001", "currency": "EUR"})
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "INVALID_AMOUNT"


def test_no_enabled_psp_config_is_503(api_client, player):
    PSPConfig.objects.filter(tenant=player.tenant).update(enabled=False)
    response = create(api_client, player)
    assert response.status_code == 503
    assert response.json()["error"]["code"] == "PROVIDER_NOT_CONFIGURED"


def test_stripe_refusal_fails_the_deposit_with_502(api_client, player, fake_stripe):
    fake_stripe.valid_keys.clear()
    response = create(api_client, player)
    assert response.status_code == 502
    assert response.json()["error"]["code"] == "PROVIDER_ERROR"
    assert "sk_test" not in response.content.decode().replace("sk_test_****", "")
    assert Deposit.objects.get().state == Deposit.State.FAILED


def test_stripe_outage_leaves_the_deposit_retryable(api_client, player, fake_stripe):
    fake_stripe.fail_with_status = 500
    pending = create(api_client, player)
    # Outcome unknown: "pending, poll" (a worker tries again; eager here, and the
    # fake still fails), the deposit left created for the replay.
    assert pending.status_code == 202
    assert pending.json()["error"]["code"] == "DEPOSIT_CHECKOUT_PENDING"
    assert Deposit.objects.get().state == Deposit.State.CREATED
    fake_stripe.fail_with_status = None
    retry = create(api_client, player)
    assert retry.status_code == 201
    assert retry.json()["state"] == "pending_provider"
    keys = {r.headers["idempotency-key"] for r in fake_stripe.requests}
    assert keys == {f"deposit:{retry.json()['id']}"}


def test_player_lists_and_reads_only_their_deposits(api_client, player):
    mine = pending_deposit(player)
    other = pending_deposit(PlayerFactory(tenant=player.tenant))
    listing = api_client.get("/api/v1/deposits", **auth(player))
    assert [d["id"] for d in listing.json()["results"]] == [mine.pk]
    assert (
        api_client.get(f"/api/v1/deposits/{mine.pk}", **auth(player)).status_code == 200
    )
    response = api_client.get(f"/api/v1/deposits/{other.pk}", **auth(player))
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "DEPOSIT_NOT_FOUND"


def test_another_brands_token_reaches_no_deposit_endpoint(api_client, player):
    deposit = pending_deposit(player)
    other = TenantFactory()
    headers = {
        "HTTP_X_TENANT": other.slug,
        "HTTP_AUTHORIZATION": f"Bearer {token_for(player)}",
        "HTTP_IDEMPOTENCY_KEY": "k",
    }
    assert api_client.get("/api/v1/deposits", **headers).status_code == 404
    assert (
        api_client.get(f"/api/v1/deposits/{deposit.pk}", **headers).status_code == 404
    )
    response = api_client.post(
        "/api/v1/deposits", {"amount": "1", "currency": "EUR"}, format="json", **headers
    )
    assert response.status_code == 404
    assert Deposit.objects.count() == 1


def test_deposits_need_a_player_token(api_client, player):
    response = api_client.get("/api/v1/deposits", HTTP_X_TENANT=player.tenant.slug)
    assert response.status_code == 401


def test_one_key_used_by_two_players_makes_two_deposits(api_client, player):
    other = PlayerFactory(tenant=player.tenant)
    first = create(api_client, player, key="shared").json()
    second = create(api_client, other, key="shared").json()
    assert first["id"] != second["id"]


def test_deposit_past_the_daily_limit_is_422_and_creates_nothing(api_client, player):
    TenantPolicy.objects.filter(tenant=player.tenant).update(
        daily_deposit_limits={"EUR": 8000}
    )
    first = create(api_client, player, key="key-1")

    second = create(api_client, player, key="key-2")

    assert first.status_code == 201
    assert second.status_code == 422
    error = second.json()["error"]
    assert error["code"] == "LIMIT_EXCEEDED"
    assert (error["details"]["limit"], error["details"]["used"]) == (8000, 5000)
    assert Deposit.objects.filter(player=player).count() == 1


def test_deposit_endpoint_is_rate_limited_per_player(api_client, player, settings):
    settings.RATELIMIT_RATES = {**settings.RATELIMIT_RATES, "deposit": "2/m"}
    statuses = [create(api_client, player, key=f"rl-{n}").status_code for n in range(3)]

    assert statuses == [201, 201, 429]
