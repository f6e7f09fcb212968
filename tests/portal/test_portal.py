"""The server-rendered player portal, through Django's test client."""

import pytest
from django.test import Client

from tenants.models import TenantDomain, TenantPolicy
from tests.factories import PlayerFactory, TenantFactory, fund
from tests.payments.factories import pending_deposit
from tests.withdrawals.factories import verified_player, withdrawal_requested
from wallet.models import Deposit, Withdrawal

pytestmark = pytest.mark.django_db

PASSWORD = "correct-horse-battery"


def login(client, player):
    return client.post(
        f"/login/?tenant={player.tenant.slug}",
        {"email": player.email, "password": PASSWORD},
    )


def test_register_then_log_in_then_see_an_empty_wallet(client):
    tenant = TenantFactory()
    registered = client.post(
        f"/register/?tenant={tenant.slug}",
        {"email": "new@example.com", "password": "long-enough-pass"},
    )
    assert registered["Location"] == "/login/"
    logged_in = client.post(
        "/login/", {"email": "new@example.com", "password": "long-enough-pass"}
    )
    assert logged_in["Location"] == "/wallet/"
    page = client.get("/wallet/").content.decode()
    assert "new@example.com" in page
    assert "No money yet" in page


def test_wallet_shows_balances_and_history(client):
    player = PlayerFactory()
    fund(player, 12345)
    login(client, player)
    page = client.get("/wallet/").content.decode()
    assert 'data-testid="available-EUR">123.45 EUR<' in page
    assert "Deposit" in page


def test_wrong_password_is_refused_with_a_clear_message(client):
    player = PlayerFactory()
    response = client.post(
        f"/login/?tenant={player.tenant.slug}",
        {"email": player.email, "password": "wrong"},
    )
    assert response.status_code == 200
    assert "INVALID_CREDENTIALS" in response.content.decode()


def test_weak_password_is_refused_at_registration(client):
    tenant = TenantFactory()
    response = client.post(
        f"/register/?tenant={tenant.slug}",
        {"email": "a@example.com", "password": "12345678"},
    )
    assert "VALIDATION_ERROR" in response.content.decode()


def test_refused_deposit_shows_the_reason(client):
    player = PlayerFactory()
    TenantPolicy.objects.filter(tenant=player.tenant).update(deposits_enabled=False)
    login(client, player)
    response = client.post(
        "/deposit/",
        {"amount": "50.00", "currency": "EUR", "idempotency_key": "abcdef123456"},
    )
    assert response.status_code == 200
    page = response.content.decode()
    assert "temporarily disabled" in page
    assert "MODULE_TEMPORARILY_DISABLED" in page
    assert not Deposit.objects.exists()


def test_pages_need_a_logged_in_player(client):
    tenant = TenantFactory()
    response = client.get(f"/wallet/?tenant={tenant.slug}")
    assert response["Location"] == "/login/"


def test_another_players_deposit_status_is_not_found(client):
    player = PlayerFactory()
    other = pending_deposit(PlayerFactory(tenant=player.tenant))
    login(client, player)
    response = client.get(f"/deposits/{other.pk}/")
    assert response.status_code == 404
    assert "DEPOSIT_NOT_FOUND" in response.content.decode()


def test_switching_brand_logs_the_player_out(client):
    player = PlayerFactory()
    other = TenantFactory()
    login(client, player)
    assert client.get("/wallet/").status_code == 200
    response = client.get(f"/wallet/?tenant={other.slug}")
    assert response["Location"] == "/login/"


def test_brand_comes_from_the_host(client):
    player = PlayerFactory()
    TenantDomain.objects.create(tenant=player.tenant, domain="testserver")
    response = client.post("/login/", {"email": player.email, "password": PASSWORD})
    assert response["Location"] == "/wallet/"


def test_without_a_brand_the_portal_says_how_to_pick_one(client):
    response = client.get("/login/")
    assert response.status_code == 404
    assert "?tenant=" in response.content.decode()


def test_pending_status_page_refreshes_itself(client):
    player = PlayerFactory()
    deposit = pending_deposit(player)
    login(client, player)
    page = client.get(f"/deposits/{deposit.pk}/").content.decode()
    assert 'http-equiv="refresh"' in page
    assert "pending_provider" in page


def test_forms_are_csrf_protected():
    player = PlayerFactory()
    client = Client(enforce_csrf_checks=True)
    response = client.post(
        f"/login/?tenant={player.tenant.slug}",
        {"email": player.email, "password": PASSWORD},
    )
    assert response.status_code == 403


def test_portal_login_shares_the_api_login_rate_limit(client, settings):
    settings.RATELIMIT_RATES = {**settings.RATELIMIT_RATES, "login": "2/m"}
    player = PlayerFactory()
    wrong = {"email": player.email, "password": "wrong"}
    url = f"/login/?tenant={player.tenant.slug}"

    statuses = [client.post(url, wrong).status_code for _ in range(3)]

    assert statuses == [200, 200, 429]
    assert "RATE_LIMITED" in client.post(url, wrong).content.decode()


def test_portal_deposits_are_limited_per_player(client, settings):
    settings.RATELIMIT_RATES = {**settings.RATELIMIT_RATES, "deposit": "1/m"}
    player = PlayerFactory()
    login(client, player)
    form = {"amount": "10.00", "currency": "EUR", "idempotency_key": "k1"}

    client.post("/deposit/", form)
    second = client.post("/deposit/", {**form, "idempotency_key": "k2"})

    assert second.status_code == 429
    assert second["Retry-After"]


def withdraw_form(**changes):
    form = {
        "amount": "20.00",
        "currency": "EUR",
        "iban": "DE89370400440532013000",
        "holder_name": "Ann Example",
        "idempotency_key": "withdraw-key-1",
    }
    form.update(changes)
    return form


def test_verified_player_requests_a_withdrawal_and_the_funds_are_held(client):
    player = verified_player(balance_minor=5_000)
    login(client, player)

    response = client.post("/withdraw/", withdraw_form())
    client.post("/withdraw/", withdraw_form())  # a double submit

    assert response["Location"] == "/wallet/"
    withdrawal = Withdrawal.objects.get(player=player)
    assert withdrawal.state == "requested"
    page = client.get("/wallet/").content.decode()
    assert 'data-testid="held-EUR">20.00 EUR<' in page
    assert "DE89 •••• 3000" in page


def test_withdrawal_refused_by_policy_shows_the_code_and_holds_nothing(client):
    player = PlayerFactory()  # KYC not verified
    fund(player, 5_000)
    login(client, player)

    response = client.post("/withdraw/", withdraw_form())

    assert response.status_code == 200
    assert "KYC_REQUIRED_FOR_WITHDRAWAL" in response.content.decode()
    assert not Withdrawal.objects.exists()


def test_player_cancels_a_requested_withdrawal_and_gets_the_funds_back(client):
    player = verified_player(balance_minor=5_000)
    login(client, player)
    client.post("/withdraw/", withdraw_form())
    withdrawal = Withdrawal.objects.get(player=player)

    client.post(f"/withdrawals/{withdrawal.pk}/cancel/")

    withdrawal.refresh_from_db()
    assert withdrawal.state == "canceled"
    assert (
        'data-testid="available-EUR">50.00 EUR<'
        in client.get("/wallet/").content.decode()
    )


def test_another_players_withdrawal_cannot_be_canceled(client):
    owner = verified_player(balance_minor=5_000)
    withdrawal = withdrawal_requested(owner, 1_000)
    intruder = PlayerFactory(tenant=owner.tenant)
    login(client, intruder)

    client.post(f"/withdrawals/{withdrawal.pk}/cancel/")

    withdrawal.refresh_from_db()
    assert withdrawal.state == "requested"


def test_a_refused_withdrawal_names_the_brands_minimum_in_major_units(client):
    player = verified_player(balance_minor=5_000)
    TenantPolicy.objects.filter(tenant=player.tenant).update(
        withdrawal_min_amounts={"EUR": 2_500}
    )
    login(client, player)

    page = client.post("/withdraw/", withdraw_form()).content.decode()

    assert "WITHDRAWAL_AMOUNT_BELOW_MINIMUM" in page
    assert "(minimum 25.00 EUR)" in page
    assert not Withdrawal.objects.exists()
