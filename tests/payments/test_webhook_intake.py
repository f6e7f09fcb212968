"""The webhook front door: bounded bodies, a cached config, and a flood of forged
deliveries refused per endpoint without filling the inbox."""

import json

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from common import crypto
from payments.models import WebhookInbox
from payments.webhook_intake import webhook_config_cache_clear
from tests.factories import PlayerFactory
from tests.payments.conftest import post_event, stripe_event
from tests.payments.factories import PSPConfigFactory, pending_deposit

pytestmark = pytest.mark.django_db


@pytest.fixture
def config():
    return PSPConfigFactory()


def test_a_body_over_the_limit_is_refused_before_storage(client, config, settings):
    settings.WEBHOOK_MAX_BODY_BYTES = 1024
    body = json.dumps({"id": "evt_big", "padding": "x" * 2000}).encode()
    response = client.post(
        f"/api/v1/webhooks/stripe/{config.endpoint_id}/",
        data=body,
        content_type="application/json",
        HTTP_STRIPE_SIGNATURE="t=1,v1=00",
    )
    assert response.status_code == 413
    assert response.json()["error"]["code"] == "WEBHOOK_PAYLOAD_TOO_LARGE"
    assert response.json()["error"]["details"] == {"max_bytes": 1024}
    assert not WebhookInbox.objects.exists()


def test_forged_deliveries_past_the_endpoint_limit_are_refused_unstored(
    client, config, settings
):
    settings.RATELIMIT_RATES = {**settings.RATELIMIT_RATES, "webhook_rejected": "3/m"}
    player = PlayerFactory(tenant=config.tenant)
    deposit = pending_deposit(player, 5000)
    forged = stripe_event(deposit, "checkout.session.completed")
    for _ in range(3):
        response = post_event(client, config, forged, secret="whsec_forged0000000000")
        assert response.status_code == 400
    assert WebhookInbox.objects.filter(status="rejected").count() == 3

    flood = post_event(client, config, forged, secret="whsec_forged0000000000")
    assert flood.status_code == 429
    assert flood.json()["error"]["code"] == "RATE_LIMITED"
    assert flood["Retry-After"] == "60"
    assert WebhookInbox.objects.count() == 3  # nothing more stored

    genuine = post_event(
        client, config, stripe_event(deposit, "checkout.session.completed")
    )
    assert genuine.status_code == 200
    deposit.refresh_from_db()
    assert deposit.state == "completed"


def test_the_limit_is_per_endpoint(client, settings):
    settings.RATELIMIT_RATES = {**settings.RATELIMIT_RATES, "webhook_rejected": "1/m"}
    flooded, other = PSPConfigFactory(), PSPConfigFactory()
    deposit = pending_deposit(PlayerFactory(tenant=flooded.tenant), 5000)
    event = stripe_event(deposit, "checkout.session.completed")
    post_event(client, flooded, event, secret="whsec_forged0000000000")
    assert (
        post_event(client, flooded, event, secret="whsec_forged0000000000").status_code
        == 429
    )
    assert (
        post_event(client, other, event, secret="whsec_forged0000000000").status_code
        == 400
    )


def test_the_config_and_its_secret_are_cached_between_deliveries(
    client, config, settings, monkeypatch
):
    settings.WEBHOOK_CONFIG_CACHE_SECONDS = 30
    webhook_config_cache_clear()
    decrypted = []
    real_decrypt = crypto.decrypt_str

    def counting(text):
        plain = real_decrypt(text)
        decrypted.append(plain)
        return plain

    monkeypatch.setattr(crypto, "decrypt_str", counting)
    signing_secret = config.webhook_secret()
    player = PlayerFactory(tenant=config.tenant)
    first, second = pending_deposit(player, 1000), pending_deposit(player, 2000)
    try:
        assert (
            post_event(
                client, config, stripe_event(first, "checkout.session.expired")
            ).status_code
            == 200
        )
        decrypted.clear()
        with CaptureQueriesContext(connection) as queries:
            response = post_event(
                client,
                config,
                stripe_event(second, "checkout.session.expired"),
                secret=signing_secret,  # the test signs with it; no decrypt
            )
        assert response.status_code == 200
        # The door looks the endpoint up by its id; the application (eager here, on a
        # worker in production) reads the config by primary key and is not the door.
        config_reads = [
            q
            for q in queries.captured_queries
            if 'WHERE "payments_pspconfig"."endpoint_id"' in q["sql"]
            or '"payments_pspconfig"."endpoint_id" = ' in q["sql"]
        ]
        assert config_reads == []
        # The signing secret was decrypted once, for the first delivery.
        assert signing_secret not in decrypted
    finally:
        webhook_config_cache_clear()
