"""Per-tenant (and per-currency) routing of deposits; the deposit API uses it."""

import pytest

from payments.models import PaymentRoute
from payments.selectors import payment_route_get
from tests.factories import PlayerFactory, TenantFactory, token_for
from wallet.models import Deposit

pytestmark = pytest.mark.django_db


def deposit_post(client, player, amount="50.00", currency="EUR", key="key-1"):
    return client.post(
        "/api/v1/deposits",
        {"amount": amount, "currency": currency},
        content_type="application/json",
        HTTP_X_TENANT=player.tenant.slug,
        HTTP_AUTHORIZATION=f"Bearer {token_for(player)}",
        HTTP_IDEMPOTENCY_KEY=key,
    )


def test_without_a_route_deposits_go_to_stripe_and_payouts_to_manual():
    tenant = TenantFactory()
    route = payment_route_get(tenant_id=tenant.pk, currency="EUR")
    assert (route.deposit, route.payout) == ("stripe", "manual")


def test_currency_route_wins_over_the_default_route():
    tenant = TenantFactory()
    PaymentRoute.objects.create(tenant=tenant, currency="", deposit_provider="stripe")
    PaymentRoute.objects.create(
        tenant=tenant, currency="USD", deposit_provider="adyen", payout_provider="adyen"
    )
    assert payment_route_get(tenant_id=tenant.pk, currency="USD").deposit == "adyen"
    assert payment_route_get(tenant_id=tenant.pk, currency="EUR").deposit == "stripe"


def test_routes_of_one_tenant_do_not_apply_to_another():
    routed, other = TenantFactory(), TenantFactory()
    PaymentRoute.objects.create(tenant=routed, deposit_provider="adyen")
    assert payment_route_get(tenant_id=other.pk, currency="EUR").deposit == "stripe"


def test_deposit_api_opens_an_adyen_payment_link_for_a_tenant_routed_to_adyen(
    client, adyen_config_model, player, fake_adyen
):
    PaymentRoute.objects.create(tenant=player.tenant, deposit_provider="adyen")
    fake_adyen.status, fake_adyen.body = (
        201,
        {
            "id": "PL0001",
            "url": "https://test.adyen.link/PL0001",
            "expiresAt": "2030-01-01T00:00:00Z",
            "status": "active",
        },
    )
    response = deposit_post(client, player)
    assert response.status_code == 201, response.content
    body = response.json()
    assert (body["provider"], body["state"]) == ("adyen", "pending_provider")
    assert body["checkout_url"] == "https://test.adyen.link/PL0001"
    deposit = Deposit.objects.get(pk=body["id"])
    assert deposit.provider_reference == "PL0001"
    [sent] = fake_adyen.requests
    assert sent["path"] == "/paymentLinks"
    assert sent["json"]["reference"] == f"deposit:{deposit.pk}"
    assert sent["json"]["merchantAccount"] == "BrandAMerchant"
    assert sent["headers"]["Idempotency-Key"] == f"deposit:{deposit.pk}"


def test_deposit_in_a_currency_adyen_cannot_express_is_refused(
    client, adyen_config_model, player, fake_adyen
):
    player.tenant.allowed_currencies = ["EUR", "IDR"]
    player.tenant.save()
    PaymentRoute.objects.create(tenant=player.tenant, deposit_provider="adyen")
    response = deposit_post(client, player, amount="15000.50", currency="IDR")
    assert response.status_code == 422
    assert response.json()["error"]["code"] == "PROVIDER_AMOUNT_NOT_EXPRESSIBLE"
    assert fake_adyen.requests == []


def test_tenant_routed_to_adyen_without_adyen_config_is_refused(client, fake_adyen):
    player = PlayerFactory()
    PaymentRoute.objects.create(tenant=player.tenant, deposit_provider="adyen")
    response = deposit_post(client, player)
    assert response.status_code == 503
    assert response.json()["error"]["code"] == "PROVIDER_NOT_CONFIGURED"


def test_admin_refuses_a_route_to_a_psp_the_brand_has_no_config_for(client):
    from payments.admin import PaymentRouteForm
    from tests.payments.factories import PSPConfigFactory

    tenant = TenantFactory()
    PSPConfigFactory(tenant=tenant)  # Stripe only
    form = PaymentRouteForm(
        data={
            "tenant": tenant.pk,
            "currency": "EUR",
            "deposit_provider": "adyen",
            "payout_provider": "manual",
        }
    )

    assert not form.is_valid()
    assert "no enabled adyen configuration" in str(form.errors["deposit_provider"])
    assert not PaymentRoute.objects.filter(tenant=tenant).exists()
