"""Admin pages added for Adyen: PSP config secrets, routes, refunds, disputes."""

import pytest

from payments.models import PaymentRoute, PSPConfig, Refund
from payments.simulator.adyen import batch, notification_item
from tests.adyen.conftest import HMAC_KEY, adyen_psp_config, post_notification
from tests.factories import OperatorFactory, PlayerFactory, TenantFactory
from tests.payments.factories import pending_deposit
from wallet.models import Deposit

pytestmark = pytest.mark.django_db


@pytest.fixture
def operator(adyen_config_model):
    return OperatorFactory(tenants=[adyen_config_model.tenant])


@pytest.fixture
def operator_client(client, operator):
    client.force_login(operator)
    return client


def test_adyen_secrets_are_masked_and_never_echoed(operator_client, adyen_config_model):
    page = operator_client.get(
        f"/admin/payments/pspconfig/{adyen_config_model.pk}/change/"
    ).content.decode()
    assert HMAC_KEY not in page
    assert "hook-password-1" not in page
    assert "AQE_test_api_key_0001" not in page
    assert "••••" in page
    assert f"/api/v1/webhooks/adyen/{adyen_config_model.endpoint_id}/" in page


def test_saving_without_secrets_keeps_the_stored_ones(
    operator_client, adyen_config_model
):
    response = operator_client.post(
        f"/admin/payments/pspconfig/{adyen_config_model.pk}/change/",
        {
            "tenant": adyen_config_model.tenant_id,
            "provider": "adyen",
            "mode": "test",
            "enabled": "on",
            "currencies": "[]",
            "merchant_account": "BrandAMerchantNew",
            "webhook_username": "adyen-hook",
        },
    )
    assert response.status_code == 302
    config = PSPConfig.objects.get(pk=adyen_config_model.pk)
    assert config.merchant_account == "BrandAMerchantNew"
    assert config.hmac_key() == HMAC_KEY
    assert config.webhook_password() == "hook-password-1"


def test_non_hex_hmac_key_is_refused(operator_client, adyen_config_model):
    response = operator_client.post(
        f"/admin/payments/pspconfig/{adyen_config_model.pk}/change/",
        {
            "tenant": adyen_config_model.tenant_id,
            "provider": "adyen",
            "mode": "test",
            "enabled": "on",
            "currencies": "[]",
            "merchant_account": "BrandAMerchant",
            "hmac_key": "not-hex",
        },
    )
    assert response.status_code == 200
    assert "hexadecimal" in response.content.decode()
    assert PSPConfig.objects.get(pk=adyen_config_model.pk).hmac_key() == HMAC_KEY


def test_operator_routes_a_currency_to_adyen(operator_client, adyen_config_model):
    response = operator_client.post(
        "/admin/payments/paymentroute/add/",
        {
            "tenant": adyen_config_model.tenant_id,
            "currency": "eur",
            "deposit_provider": "adyen",
            "payout_provider": "adyen",
        },
    )
    assert response.status_code == 302
    route = PaymentRoute.objects.get()
    assert (route.currency, route.deposit_provider, route.payout_provider) == (
        "EUR",
        "adyen",
        "adyen",
    )


def test_manual_deposits_are_refused_in_a_route(operator_client, adyen_config_model):
    response = operator_client.post(
        "/admin/payments/paymentroute/add/",
        {
            "tenant": adyen_config_model.tenant_id,
            "currency": "",
            "deposit_provider": "manual",
            "payout_provider": "manual",
        },
    )
    assert response.status_code == 200
    assert not PaymentRoute.objects.exists()


def test_routes_of_another_tenant_are_hidden_and_404(operator_client):
    other = TenantFactory()
    route = PaymentRoute.objects.create(tenant=other, deposit_provider="adyen")
    listing = operator_client.get("/admin/payments/paymentroute/").content.decode()
    assert other.name not in listing
    assert (
        operator_client.get(
            f"/admin/payments/paymentroute/{route.pk}/change/"
        ).status_code
        == 404
    )


def test_operator_cannot_route_another_tenant(operator_client):
    other = TenantFactory()
    response = operator_client.post(
        "/admin/payments/paymentroute/add/",
        {
            "tenant": other.pk,
            "currency": "",
            "deposit_provider": "adyen",
            "payout_provider": "manual",
        },
    )
    assert response.status_code == 200
    assert not PaymentRoute.objects.exists()


def _paid(client, config, player, amount_minor=5000):
    deposit = pending_deposit(player, amount_minor, provider="adyen")
    post_notification(
        client,
        config,
        batch(notification_item(config=config, deposit=deposit, event="AUTHORISATION")),
    )
    deposit.refresh_from_db()
    return deposit


def test_operator_asks_for_a_partial_refund_from_the_admin(
    client, operator, adyen_config_model, fake_adyen, django_capture_on_commit_callbacks
):
    player = PlayerFactory(tenant=adyen_config_model.tenant)
    deposit = _paid(client, adyen_config_model, player)
    fake_adyen.status, fake_adyen.body = (
        201,
        {"pspReference": "RFADMIN1", "status": "received"},
    )
    client.force_login(operator)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            "/admin/payments/refund/add/",
            {
                "deposit": deposit.pk,
                "amount": "12.50",
                "reason": "goodwill",
                "request_key": "form-1",
            },
        )
    assert response.status_code == 302
    refund = Refund.objects.get()
    assert (refund.amount_minor, refund.state, refund.provider_reference) == (
        1250,
        "pending",
        "RFADMIN1",
    )


def test_submitting_the_refund_form_twice_refunds_once(
    client, operator, adyen_config_model, fake_adyen, django_capture_on_commit_callbacks
):
    """Issue 8, defect 2: a double submit created two refunds and sent both."""
    player = PlayerFactory(tenant=adyen_config_model.tenant)
    deposit = _paid(client, adyen_config_model, player)
    fake_adyen.status, fake_adyen.body = (
        201,
        {"pspReference": "RFADMIN1", "status": "received"},
    )
    client.force_login(operator)
    form = {
        "deposit": deposit.pk,
        "amount": "12.50",
        "reason": "goodwill",
        "request_key": "form-shown-once",
    }
    with django_capture_on_commit_callbacks(execute=True):
        first = client.post("/admin/payments/refund/add/", form)
    with django_capture_on_commit_callbacks(execute=True):
        second = client.post("/admin/payments/refund/add/", form)
    assert (first.status_code, second.status_code) == (302, 302)
    assert Refund.objects.count() == 1
    assert len(fake_adyen.requests) == 1


def test_admin_refuses_a_refund_above_what_is_left(
    client, operator, adyen_config_model, fake_adyen
):
    player = PlayerFactory(tenant=adyen_config_model.tenant)
    deposit = _paid(client, adyen_config_model, player)
    client.force_login(operator)
    response = client.post(
        "/admin/payments/refund/add/",
        {
            "deposit": deposit.pk,
            "amount": "50.01",
            "reason": "too much",
            "request_key": "form-1",
        },
    )
    assert response.status_code == 200
    assert "At most 50.00 EUR" in response.content.decode()
    assert not Refund.objects.exists()
    assert fake_adyen.requests == []


def test_admin_cannot_refund_another_tenants_deposit(
    client, operator, adyen_config_model
):
    other_config = adyen_psp_config(merchant_account="BrandBMerchant")
    other_player = PlayerFactory(tenant=other_config.tenant)
    other_deposit = _paid(client, other_config, other_player)
    assert other_deposit.state == Deposit.State.COMPLETED
    client.force_login(operator)
    response = client.post(
        "/admin/payments/refund/add/",
        {
            "deposit": other_deposit.pk,
            "amount": "1.00",
            "reason": "not mine",
            "request_key": "form-1",
        },
    )
    assert response.status_code == 200
    assert not Refund.objects.exists()


def test_disputes_of_another_tenant_are_hidden(client, operator, adyen_config_model):
    other_config = adyen_psp_config(merchant_account="BrandBMerchant")
    other_player = PlayerFactory(tenant=other_config.tenant)
    deposit = _paid(client, other_config, other_player)
    post_notification(
        client,
        other_config,
        batch(
            notification_item(config=other_config, deposit=deposit, event="CHARGEBACK")
        ),
    )
    client.force_login(operator)
    listing = client.get("/admin/payments/dispute/")
    assert listing.status_code == 200
    assert f"deposit #{deposit.pk}" not in listing.content.decode().lower()
    from payments.models import Dispute

    dispute = Dispute.objects.get()
    assert (
        client.get(f"/admin/payments/dispute/{dispute.pk}/change/").status_code == 404
    )
