import json

import pytest

from payments.exceptions import (
    ProviderAmountNotExpressible,
    ProviderError,
    ProviderNotConfigured,
    ProviderUnavailable,
)
from payments.providers.adyen.client import AdyenApi
from payments.providers.adyen.provider import AdyenProvider
from payments.providers.base import CheckoutRequest, PayoutRequest
from payments.providers.registry import provider_build
from tests.adyen.factories import adyen_config
from tests.adyen.fake_adyen import FakeAdyen


@pytest.fixture
def fake():
    server = FakeAdyen()
    yield server
    server.close()


def _provider(fake, **overrides):
    return AdyenProvider(
        adyen_config(
            checkout_base_url=fake.url, transfers_base_url=fake.url, **overrides
        )
    )


def _checkout(amount_minor=5000, currency="EUR"):
    return CheckoutRequest(
        deposit_id=42,
        tenant_slug="brand-a",
        amount_minor=amount_minor,
        currency=currency,
        idempotency_key="deposit:42",
        return_url="https://brand-a.example/r",
        cancel_url="https://brand-a.example/c",
    )


def _payout(destination=None):
    return PayoutRequest(
        withdrawal_id=7,
        attempt_id=2,
        amount_minor=2500,
        currency="EUR",
        destination=destination
        or {"iban": "NL91ABNA0417164300", "holder_name": "A. Klaassen"},
        idempotency_key="payout:7:2",
        reference="withdrawal:7",
    )


def test_registry_builds_the_adyen_provider_from_its_config():
    provider = provider_build(name="adyen", config=adyen_config())
    assert isinstance(provider, AdyenProvider)


def test_config_repr_hides_every_secret():
    text = repr(adyen_config())
    assert "AQE-test-api-key" not in text
    assert "s3cret-hook-pass" not in text
    assert "44782DEF" not in text
    assert "merchant_account='TestMerchant'" in text


def test_payment_link_carries_our_reference_amount_and_idempotency_key(fake):
    fake.status, fake.body = 201, {"id": "PL1", "url": "https://test.adyen.link/PL1"}
    session = _provider(fake).create_deposit_checkout(_checkout(5_000, "CLP"))
    [sent] = fake.requests
    assert sent["path"] == "/paymentLinks"
    assert sent["headers"]["Idempotency-Key"] == "deposit:42"
    assert sent["headers"]["x-api-key"] == "AQE-test-api-key"
    assert sent["json"]["reference"] == "deposit:42"
    assert sent["json"]["amount"] == {"currency": "CLP", "value": 500_000}
    assert sent["json"]["merchantAccount"] == "TestMerchant"
    assert sent["json"]["metadata"] == {"tenant": "brand-a", "deposit_id": "42"}
    assert (session.provider_reference, session.redirect_url) == (
        "PL1",
        "https://test.adyen.link/PL1",
    )


def test_deposit_amount_adyen_cannot_express_is_refused_before_any_call(fake):
    with pytest.raises(ProviderAmountNotExpressible):
        _provider(fake).create_deposit_checkout(_checkout(1_500_050, "IDR"))
    assert fake.requests == []


def test_server_error_means_outcome_unknown(fake):
    fake.status, fake.body = 500, {"status": 500, "errorCode": "000"}
    with pytest.raises(ProviderUnavailable) as caught:
        _provider(fake).create_deposit_checkout(_checkout())
    assert caught.value.details["http_status"] == 500


def test_bad_gateway_means_outcome_unknown(fake):
    fake.status, fake.body = 502, {}
    with pytest.raises(ProviderUnavailable):
        _provider(fake).send_payout(_payout())


def test_validation_refusal_is_a_provider_error_with_adyen_codes(fake):
    fake.status, fake.body = (
        422,
        {
            "status": 422,
            "errorCode": "14_0",
            "message": "Invalid amount",
            "errorType": "validation",
        },
    )
    with pytest.raises(ProviderError) as caught:
        _provider(fake).create_deposit_checkout(_checkout())
    assert caught.value.details["error_code"] == "14_0"
    assert caught.value.details["psp_message"] == "Invalid amount"


def test_wrong_api_key_is_a_provider_error(fake):
    fake.status, fake.body = 401, {"status": 401, "errorCode": "000"}
    with pytest.raises(ProviderError) as caught:
        _provider(fake).check_credentials()
    assert caught.value.details["http_status"] == 401


def test_unreachable_adyen_means_outcome_unknown(fake):
    url = fake.url
    fake.close()  # nothing listens there any more
    provider = AdyenProvider(adyen_config(checkout_base_url=url))
    with pytest.raises(ProviderUnavailable):
        provider.create_deposit_checkout(_checkout())


def test_transfer_body_pays_the_iban_from_the_brand_balance_account(fake):
    fake.status, fake.body = 202, {"id": "TR1", "status": "received"}
    result = _provider(fake).send_payout(_payout())
    [sent] = fake.requests
    assert sent["path"] == "/transfers"
    assert sent["headers"]["Idempotency-Key"] == "payout:7:2"
    assert sent["json"]["category"] == "bank"
    assert sent["json"]["balanceAccountId"] == "BAB8B2C3D4E5F6G7H8D9J6GD4"
    assert sent["json"]["reference"] == "withdrawal:7:attempt:2"
    assert sent["json"]["counterparty"] == {
        "bankAccount": {
            "accountHolder": {"fullName": "A. Klaassen"},
            "accountIdentification": {"type": "iban", "iban": "NL91ABNA0417164300"},
        }
    }
    assert (result.status, result.provider_reference) == ("pending", "TR1")


def test_transfer_refused_synchronously_is_a_failed_payout(fake):
    fake.status, fake.body = (
        200,
        {"id": "TR2", "status": "refused", "reason": "notEnoughBalance"},
    )
    result = _provider(fake).send_payout(_payout())
    assert (result.status, result.failure_reason) == ("failed", "notEnoughBalance")


def test_payout_destination_without_holder_is_refused_without_echoing_it(fake):
    with pytest.raises(ProviderError) as caught:
        _provider(fake).send_payout(_payout({"iban": "NL91ABNA0417164300"}))
    assert "NL91" not in json.dumps(caught.value.details)
    assert fake.requests == []


def test_payout_without_balance_account_is_refused(fake):
    with pytest.raises(ProviderError) as caught:
        _provider(fake, balance_account_id="").send_payout(_payout())
    assert caught.value.details["missing"] == "balance_account_id"


def test_live_mode_without_url_prefix_is_not_configured():
    with pytest.raises(ProviderNotConfigured):
        AdyenApi(api_key="AQE-live", environment="live")


def test_missing_api_key_is_not_configured():
    with pytest.raises(ProviderNotConfigured):
        AdyenApi(api_key="")


def test_a_2xx_without_a_payment_link_is_an_unknown_outcome_not_a_failure(fake):
    """Issue 8, defect 6: Adyen's "200 with a garbage body" failed the deposit,
    though the link may exist."""
    fake.status, fake.body = 200, {"unexpected": True}
    with pytest.raises(ProviderUnavailable):
        _provider(fake).create_deposit_checkout(_checkout())
