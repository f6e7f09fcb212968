"""Every request our Adyen adapter sends is accepted by Adyen's own OpenAPI spec.

Prism validates each request against the spec: an invalid body is a 422 with an
``sl-violations`` header, a missing API key a 401. Each test asserts that the exchange
was a 2xx and that Prism reported no violation at all (not even a warning).
"""

import pytest
import requests

from payments.exceptions import ProviderError
from payments.providers.adyen.client import AdyenApi
from payments.providers.adyen.provider import AdyenProvider
from payments.providers.base import CheckoutRequest, PayoutRequest, RefundRequest
from tests.adyen.factories import adyen_config


def _accepted(exchanges) -> list[str]:
    """The methods of the exchanges, once each is checked to be a clean 2xx."""
    assert exchanges, "no request reached Prism"
    for response in exchanges:
        assert "sl-violations" not in response.headers, response.headers[
            "sl-violations"
        ]
        assert 200 <= response.status_code < 300, response.text
    return [response.request.method for response in exchanges]


@pytest.fixture
def provider(prism_checkout, prism_transfers):
    return AdyenProvider(
        adyen_config(
            checkout_base_url=prism_checkout, transfers_base_url=prism_transfers
        )
    )


def _checkout(amount_minor=5000, currency="EUR", customer_reference="player-42"):
    return CheckoutRequest(
        deposit_id=42,
        tenant_slug="brand-a",
        amount_minor=amount_minor,
        currency=currency,
        idempotency_key="deposit:42",
        return_url="https://brand-a.example/deposits/42/return",
        cancel_url="https://brand-a.example/deposits/42/cancel",
        customer_reference=customer_reference,
    )


def _payout(destination):
    return PayoutRequest(
        withdrawal_id=7,
        attempt_id=1,
        amount_minor=2500,
        currency="EUR",
        destination=destination,
        idempotency_key="payout:7:1",
        reference="withdrawal:7",
    )


def test_payment_link_for_a_deposit_is_accepted(provider, wire):
    session = provider.create_deposit_checkout(_checkout())
    assert _accepted(wire) == ["POST"]
    assert wire[0].request.headers["Idempotency-Key"] == "deposit:42"
    assert wire[0].request.url.endswith("/paymentLinks")
    assert session.provider_reference == "PLE83C39B0A0DE0C1E"
    assert session.redirect_url == "https://test.adyen.link/PLE83C39B0A0DE0C1E"


@pytest.mark.parametrize(
    ("amount_minor", "currency"),
    [
        (1500, "JPY"),
        (12_345, "KWD"),
        (5_000, "CLP"),
        (1_990, "ISK"),
        (15_000_00, "IDR"),
    ],
)
def test_payment_links_in_currencies_with_unusual_exponents_are_accepted(
    provider, wire, amount_minor, currency
):
    provider.create_deposit_checkout(_checkout(amount_minor, currency))
    assert _accepted(wire) == ["POST"]


def test_payment_link_without_a_shopper_reference_is_accepted(provider, wire):
    provider.create_deposit_checkout(_checkout(customer_reference=""))
    assert _accepted(wire) == ["POST"]


def test_payment_link_status_fetch_is_accepted(provider, wire):
    status = provider.fetch_status("PLE83C39B0A0DE0C1E")
    assert _accepted(wire) == ["GET"]
    assert status.provider_reference == "PLE83C39B0A0DE0C1E"


def test_refund_request_is_accepted(provider, wire):
    result = provider.refund(
        RefundRequest(
            deposit_id=42,
            refund_id=3,
            provider_reference="993617895204576J",
            amount_minor=1000,
            currency="EUR",
            idempotency_key="refund:3",
        )
    )
    assert _accepted(wire) == ["POST"]
    assert wire[0].request.url.endswith("/payments/993617895204576J/refunds")
    assert wire[0].request.headers["Idempotency-Key"] == "refund:3"
    assert result.status == "pending"


def test_credentials_check_is_accepted(provider, wire):
    provider.check_credentials()
    assert _accepted(wire) == ["POST"]


def test_payout_to_an_iban_is_accepted_by_the_transfers_spec(provider, wire):
    result = provider.send_payout(
        _payout({"iban": "NL91 ABNA 0417 1643 00", "holder_name": "A. Klaassen"})
    )
    assert _accepted(wire) == ["POST"]
    assert wire[0].request.url.endswith("/transfers")
    assert wire[0].request.headers["Idempotency-Key"] == "payout:7:1"
    assert result.status == "pending"
    assert result.provider_reference


def test_payout_to_account_number_and_bic_is_accepted(provider, wire):
    provider.send_payout(
        _payout(
            {"account_number": "123456789", "bic": "BOFAUS3N", "holder_name": "J. Doe"}
        )
    )
    assert _accepted(wire) == ["POST"]


def test_transfer_status_fetch_is_accepted(prism_transfers, wire):
    api = AdyenApi(api_key="AQE-test-api-key", transfers_base_url=prism_transfers)
    api.transfer_get(transfer_id="1W1UG35U8A9J5ZLG")
    assert _accepted(wire) == ["GET"]


def test_sessions_request_is_accepted(prism_checkout, wire):
    api = AdyenApi(api_key="AQE-test-api-key", checkout_base_url=prism_checkout)
    api.session_create(
        body={
            "amount": {"currency": "EUR", "value": 5000},
            "merchantAccount": "TestMerchant",
            "reference": "deposit:42",
            "returnUrl": "https://brand-a.example/deposits/42/return",
        },
        idempotency_key="deposit:42",
    )
    assert _accepted(wire) == ["POST"]


# The checks above can fail: Prism does refuse what the spec does not allow.
def test_prism_refuses_an_invalid_payment_link_body_with_422(prism_checkout, wire):
    api = AdyenApi(api_key="AQE-test-api-key", checkout_base_url=prism_checkout)
    with pytest.raises(ProviderError) as caught:
        api.payment_link_create(body={"reference": "deposit:42"}, idempotency_key="k1")
    assert caught.value.details["http_status"] == 422
    assert "sl-violations" in wire[0].headers


def test_prism_refuses_an_invalid_transfer_body_with_422(prism_transfers):
    api = AdyenApi(api_key="AQE-test-api-key", transfers_base_url=prism_transfers)
    with pytest.raises(ProviderError) as caught:
        api.transfer_create(
            body={"amount": {"currency": "EUR", "value": 1}, "category": "bank"},
            idempotency_key="k2",
        )
    assert caught.value.details["http_status"] == 422


def test_prism_refuses_a_request_without_api_key_with_401(prism_checkout):
    response = requests.post(
        f"{prism_checkout}/paymentLinks",
        json={
            "amount": {"currency": "EUR", "value": 5000},
            "merchantAccount": "TestMerchant",
            "reference": "deposit:42",
        },
        timeout=10,
    )
    assert response.status_code == 401


# The real flows, with the provider built from a brand's PSPConfig and settings.
@pytest.mark.django_db
def test_deposit_api_of_a_brand_routed_to_adyen_sends_a_valid_payment_link(
    client, settings, prism_checkout, wire
):
    from payments.models import PaymentRoute
    from tests.adyen.conftest import adyen_psp_config
    from tests.adyen.test_routing import deposit_post
    from tests.factories import PlayerFactory

    settings.ADYEN_CHECKOUT_BASE_URL = prism_checkout
    config = adyen_psp_config()
    PaymentRoute.objects.create(tenant=config.tenant, deposit_provider="adyen")
    response = deposit_post(client, PlayerFactory(tenant=config.tenant))
    assert response.status_code == 201, response.content
    assert _accepted(wire) == ["POST"]
    assert (
        response.json()["checkout_url"] == "https://test.adyen.link/PLE83C39B0A0DE0C1E"
    )


@pytest.mark.django_db
def test_withdrawal_routed_to_adyen_sends_a_valid_transfer(
    settings, prism_transfers, wire
):
    from payments.models import PaymentRoute
    from payments.withdrawals.services import payout_dispatch, withdrawal_review_approve
    from tests.adyen.conftest import adyen_psp_config
    from tests.withdrawals.factories import (
        OPERATOR,
        verified_player,
        withdrawal_requested,
    )
    from wallet.models import PayoutAttempt

    settings.ADYEN_TRANSFERS_BASE_URL = prism_transfers
    config = adyen_psp_config()
    PaymentRoute.objects.create(tenant=config.tenant, payout_provider="adyen")
    withdrawal = withdrawal_requested(verified_player(tenant=config.tenant), 2_000)
    withdrawal_review_approve(withdrawal=withdrawal, actor=OPERATOR)
    payout_dispatch(attempt_id=withdrawal.attempts.get().pk)
    assert _accepted(wire) == ["POST"]
    attempt = withdrawal.attempts.get()
    assert attempt.state == PayoutAttempt.State.SENT
    assert attempt.provider_reference
