"""The simulator pays an Adyen deposit by posting a signed notification through the
real endpoint."""

import re
import uuid

import pytest

from payments.models import PaymentRoute, WebhookInbox
from tests.adyen.test_routing import deposit_post
from tests.factories import PlayerFactory, TenantFactory
from wallet.models import Deposit
from wallet.selectors import balance_list

pytestmark = pytest.mark.django_db


@pytest.fixture
def routed_player(simulator):
    tenant = TenantFactory()
    PaymentRoute.objects.create(tenant=tenant, deposit_provider="adyen")
    return PlayerFactory(tenant=tenant)


def _checkout(client, routed_player):
    response = deposit_post(client, routed_player)
    assert response.status_code == 201, response.content
    return response.json()


def test_simulated_pay_credits_through_the_real_adyen_endpoint(client, routed_player):
    body = _checkout(client, routed_player)
    assert body["provider"] == "adyen"
    url = body["checkout_url"]
    token = re.search(r"\?s=(.+)$", url).group(1)
    page = client.get(url)
    assert page.status_code == 200
    client.post(url.split("?")[0], {"s": token, "action": "pay"})
    deposit = Deposit.objects.get(pk=body["id"])
    assert deposit.state == Deposit.State.COMPLETED
    [balance] = balance_list(player=routed_player)
    assert balance.available_minor == 5000
    inbox = WebhookInbox.objects.get()
    assert (inbox.provider, inbox.event_type, inbox.status) == (
        "adyen",
        "AUTHORISATION",
        "processed",
    )


def test_simulated_cancel_fails_the_deposit(client, routed_player):
    body = _checkout(client, routed_player)
    url = body["checkout_url"]
    token = re.search(r"\?s=(.+)$", url).group(1)
    client.post(url.split("?")[0], {"s": token, "action": "cancel"})
    assert Deposit.objects.get(pk=body["id"]).state == Deposit.State.FAILED


def test_staff_emits_a_chargeback_for_an_adyen_deposit_through_the_endpoint(
    client, routed_player
):
    from django.contrib.auth import get_user_model

    body = _checkout(client, routed_player)
    url = body["checkout_url"]
    token = re.search(r"\?s=(.+)$", url).group(1)
    client.post(url.split("?")[0], {"s": token, "action": "pay"})
    staff = get_user_model().objects.create_superuser(
        "sim", "sim@example.com", "pw-123456"
    )
    client.force_login(staff)
    response = client.post(
        "/payments/simulator/api/events",
        {"deposit_id": body["id"], "type": "CHARGEBACK"},
        content_type="application/json",
    )
    assert response.status_code == 200, response.content
    assert response.json()["webhook_status"] == 200
    assert response.json()["webhook_response"] == "[accepted]"
    [balance] = balance_list(player=routed_player)
    assert balance.available_minor == 0


def test_simulated_adyen_config_passes_the_credentials_check_without_a_call(
    client, routed_player
):
    from common.actors import Actor
    from payments.config.services import psp_config_check_credentials
    from payments.models import PSPConfig

    _checkout(client, routed_player)
    from audit.models import AuditEvent

    config = PSPConfig.objects.get(tenant=routed_player.tenant, provider="adyen")
    psp_config_check_credentials(config=config, actor=Actor.system("tests"))
    event = AuditEvent.objects.get(action="psp_config.credentials_checked")
    assert event.after == {"outcome": "ok"}


@pytest.fixture
def staff_client(client):
    from django.contrib.auth import get_user_model

    staff = get_user_model().objects.create_superuser(
        "sim-staff", "sim-staff@example.com", "pw-123456"
    )
    client.force_login(staff)
    return client


def test_simulated_adyen_payout_is_settled_by_an_emitted_transfer_update(
    simulator, staff_client
):
    from payments.withdrawals.services import payout_dispatch, withdrawal_review_approve
    from tests.withdrawals.factories import (
        OPERATOR,
        verified_player,
        withdrawal_requested,
    )
    from wallet.models import PayoutAttempt, Withdrawal

    tenant = TenantFactory()
    PaymentRoute.objects.create(tenant=tenant, payout_provider="adyen")
    player = verified_player(tenant=tenant, balance_minor=10_000)
    withdrawal = withdrawal_requested(player, 2_500)
    withdrawal_review_approve(withdrawal=withdrawal, actor=OPERATOR)
    payout_dispatch(attempt_id=withdrawal.attempts.get().pk)
    attempt = withdrawal.attempts.get()
    assert (attempt.provider, attempt.state) == ("adyen", PayoutAttempt.State.SENT)
    assert attempt.provider_reference.startswith("SIMTR")

    response = staff_client.post(
        "/payments/simulator/api/transfers",
        {"withdrawal_id": withdrawal.pk, "status": "booked"},
        content_type="application/json",
    )
    assert response.status_code == 200, response.content
    assert response.json()["webhook_response"] == "[accepted]"
    withdrawal.refresh_from_db()
    assert withdrawal.state == Withdrawal.State.PAID


def test_simulated_refund_is_confirmed_by_an_emitted_refund_notification(
    client, routed_player, staff_client, django_capture_on_commit_callbacks
):
    from django.db import transaction

    from common.actors import Actor
    from payments.deposits.refunds import refund_request
    from payments.models import Refund

    body = _checkout(client, routed_player)
    url = body["checkout_url"]
    token = re.search(r"\?s=(.+)$", url).group(1)
    client.post(url.split("?")[0], {"s": token, "action": "pay"})
    with django_capture_on_commit_callbacks(execute=True), transaction.atomic():
        refund = refund_request(
            deposit_id=body["id"],
            tenant_id=routed_player.tenant_id,
            amount_minor=1_500,
            reason="demo",
            actor=Actor.system("tests"),
            request_key=f"test-refund-{uuid.uuid4()}",
        )
    refund.refresh_from_db()
    assert refund.provider_reference.startswith("SIMRF")

    response = staff_client.post(
        "/payments/simulator/api/events",
        {"deposit_id": body["id"], "type": "REFUND"},
        content_type="application/json",
    )
    assert response.status_code == 200, response.content
    refund.refresh_from_db()
    assert refund.state == Refund.State.SUCCEEDED
    [balance] = balance_list(player=routed_player)
    assert balance.available_minor == 3_500
