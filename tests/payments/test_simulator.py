"""The simulator exists only when enabled, and drives the real webhook path."""

import pytest
from django.core.checks import run_checks
from django.test import override_settings

from payments.models import WebhookInbox
from tests.factories import OperatorFactory, PlayerFactory
from tests.payments.conftest import reload_urls
from tests.payments.factories import PSPConfigFactory
from wallet.models import Deposit
from wallet.selectors import balance_list, ledger_invariants_check

pytestmark = pytest.mark.django_db


def login(client, player):
    client.post(
        f"/login/?tenant={player.tenant.slug}",
        {"email": player.email, "password": "correct-horse-battery"},
    )


def start_deposit(client, amount="50.00"):
    response = client.post(
        "/deposit/",
        {"amount": amount, "currency": "EUR", "idempotency_key": "abcdef123456"},
    )
    assert response.status_code == 302
    return response["Location"]


def test_simulator_urls_are_404_when_disabled(client, settings):
    settings.PAYMENTS_SIMULATOR_ENABLED = False
    reload_urls()
    assert client.get("/payments/simulator/checkout/cs_test_x/").status_code == 404
    assert client.post("/payments/simulator/api/events").status_code == 404


def test_system_check_refuses_the_simulator_without_debug():
    with override_settings(PAYMENTS_SIMULATOR_ENABLED=True, DEBUG=False):
        ids = [m.id for m in run_checks(include_deployment_checks=False)]
    assert "payments.E001" in ids


def test_system_check_is_quiet_when_the_simulator_is_off():
    with override_settings(PAYMENTS_SIMULATOR_ENABLED=False, DEBUG=False):
        ids = [m.id for m in run_checks(include_deployment_checks=False)]
    assert "payments.E001" not in ids


def test_pay_sends_a_signed_completed_event_through_the_webhook(client, simulator):
    config = PSPConfigFactory()
    player = PlayerFactory(tenant=config.tenant)
    login(client, player)
    checkout = start_deposit(client)
    assert checkout.startswith("/payments/simulator/checkout/cs_test_sim_")
    page = client.get(checkout)
    assert b"Pay" in page.content and b"50.00 EUR" in page.content
    back = client.post(checkout, {"action": "pay"})
    deposit = Deposit.objects.get()
    assert back["Location"].endswith(f"/deposits/{deposit.pk}/")
    assert deposit.state == Deposit.State.COMPLETED
    assert balance_list(player=player)[0].available_minor == 5000
    inbox = WebhookInbox.objects.get()
    assert inbox.status == "processed"
    assert inbox.headers["Stripe-Signature"].startswith("t=")
    assert ledger_invariants_check(tenant_id=config.tenant_id) == []


def test_cancel_expires_the_deposit_and_moves_nothing(client, simulator):
    config = PSPConfigFactory()
    player = PlayerFactory(tenant=config.tenant)
    login(client, player)
    checkout = start_deposit(client)
    client.post(checkout, {"action": "cancel"})
    deposit = Deposit.objects.get()
    assert deposit.state == Deposit.State.EXPIRED
    assert balance_list(player=player) == []


def test_checkout_page_needs_the_signed_session_token(client, simulator):
    config = PSPConfigFactory()
    player = PlayerFactory(tenant=config.tenant)
    login(client, player)
    checkout = start_deposit(client)
    bare = checkout.split("?")[0]
    assert client.get(bare).status_code == 404
    assert client.post(bare, {"action": "pay"}).status_code == 404
    assert Deposit.objects.get().state == Deposit.State.PENDING_PROVIDER


def test_simulator_mode_creates_a_config_on_first_deposit(client, simulator):
    player = PlayerFactory()
    login(client, player)
    checkout = start_deposit(client)
    client.post(checkout, {"action": "pay"})
    assert Deposit.objects.get().state == Deposit.State.COMPLETED


def test_staff_api_emits_any_event_for_a_deposit(client, simulator):
    config = PSPConfigFactory()
    player = PlayerFactory(tenant=config.tenant)
    login(client, player)
    client.post(start_deposit(client), {"action": "pay"})
    deposit = Deposit.objects.get()
    operator = OperatorFactory(tenants=[config.tenant])
    client.force_login(operator)
    response = client.post(
        "/payments/simulator/api/events",
        {"deposit_id": deposit.pk, "type": "charge.dispute.created"},
        content_type="application/json",
    )
    assert response.status_code == 200
    assert response.json()["webhook_status"] == 200
    deposit.refresh_from_db()
    assert deposit.charged_back_minor == 5000


def test_staff_api_is_refused_to_players_and_other_brands(client, simulator):
    config = PSPConfigFactory()
    player = PlayerFactory(tenant=config.tenant)
    login(client, player)
    client.post(start_deposit(client), {"action": "pay"})
    deposit = Deposit.objects.get()
    body = {"deposit_id": deposit.pk, "type": "charge.refunded"}
    anonymous = client.post(
        "/payments/simulator/api/events", body, content_type="application/json"
    )
    assert anonymous.status_code in (401, 403)
    client.force_login(OperatorFactory(tenants=[PSPConfigFactory().tenant]))
    foreign = client.post(
        "/payments/simulator/api/events", body, content_type="application/json"
    )
    assert foreign.status_code == 404
    assert Deposit.objects.get().refunded_minor == 0
