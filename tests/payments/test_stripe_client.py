"""What the real ``stripe`` library sends for a checkout session, seen by a local
HTTP peer that speaks Stripe's wire format."""

import pytest

from payments.exceptions import ProviderError
from payments.providers.base import CheckoutRequest
from payments.providers.registry import provider_build
from tests.payments.factories import PSPConfigFactory

pytestmark = pytest.mark.django_db


def test_checkout_session_request_matches_stripes_api(fake_stripe):
    config = PSPConfigFactory()
    fake_stripe.valid_keys.add(config.secret_key())
    provider = provider_build(name="stripe", config=config)
    session = provider.create_deposit_checkout(
        CheckoutRequest(
            deposit_id=42,
            tenant_slug=config.tenant.slug,
            amount_minor=5000,
            currency="EUR",
            idempotency_key="deposit:42",
            return_url="https://brand.example/deposits/42/",
            cancel_url="https://brand.example/deposits/42/",
            customer_reference="player:7",
        )
    )
    sent = fake_stripe.last("/v1/checkout/sessions")
    assert sent.method == "POST"
    assert sent.headers["authorization"] == f"Bearer {config.secret_key()}"
    assert sent.headers["idempotency-key"] == "deposit:42"
    assert sent.headers["content-type"] == "application/x-www-form-urlencoded"
    assert sent.form["mode"] == "payment"
    assert sent.form["client_reference_id"] == "deposit:42"
    assert sent.form["line_items[0][price_data][unit_amount]"] == "5000"
    assert sent.form["line_items[0][price_data][currency]"] == "eur"
    assert sent.form["line_items[0][quantity]"] == "1"
    assert sent.form["metadata[deposit_id]"] == "42"
    assert sent.form["metadata[tenant]"] == config.tenant.slug
    assert sent.form["payment_intent_data[metadata][deposit_id]"] == "42"
    assert sent.form["success_url"] == "https://brand.example/deposits/42/"
    assert session.provider_reference.startswith("cs_test_")
    assert session.redirect_url.startswith("https://checkout.stripe.com/")


def test_each_brand_uses_its_own_key(fake_stripe):
    first, second = PSPConfigFactory(), PSPConfigFactory()
    fake_stripe.valid_keys |= {first.secret_key(), second.secret_key()}
    provider_build(name="stripe", config=first).check_credentials()
    provider_build(name="stripe", config=second).check_credentials()
    keys = [r.headers["authorization"] for r in fake_stripe.requests]
    assert keys == [f"Bearer {first.secret_key()}", f"Bearer {second.secret_key()}"]


def test_a_refused_key_becomes_provider_error_without_the_key(fake_stripe):
    config = PSPConfigFactory()
    with pytest.raises(ProviderError) as caught:
        provider_build(name="stripe", config=config).check_credentials()
    assert caught.value.details["http_status"] == 401
    assert config.secret_key() not in str(caught.value.as_dict())


def test_zero_decimal_and_stripe_special_currencies_are_converted():
    from payments.providers.stripe.mapping import from_stripe_amount, to_stripe_amount

    assert to_stripe_amount(500, "JPY") == 500
    assert to_stripe_amount(500, "ISK") == 50000
    assert from_stripe_amount(50000, "ISK") == 500
    assert to_stripe_amount(1250, "KWD") == 1250
