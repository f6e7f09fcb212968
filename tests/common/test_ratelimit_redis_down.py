"""Redis down: the rate-limit counters cannot be read. Documented behaviour
(common/ratelimit.py, docs/security.md): the money doors listed in
``RATELIMIT_FAIL_OPEN_GROUPS`` fail open, every other group fails closed with 503
``RATE_LIMIT_UNAVAILABLE``. "Down" is a real Redis client pointed at a closed port."""

from __future__ import annotations

import socket

import pytest
from django.test import override_settings

from tests.factories import PlayerFactory, TenantFactory, token_for
from tests.payments.factories import PSPConfigFactory
from tests.payments.fake_stripe import FakeStripeServer

pytestmark = pytest.mark.django_db


def _redis_down():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    return override_settings(
        CACHES={
            "default": {
                "BACKEND": "django.core.cache.backends.redis.RedisCache",
                "LOCATION": f"redis://127.0.0.1:{port}/11",
            }
        },
        RATELIMIT_USE_CACHE="default",
    )


def test_login_fails_closed_with_a_registered_503_when_redis_is_down(api_client):
    tenant = TenantFactory(slug="alpha")
    PlayerFactory(tenant=tenant, email="ann@example.com")

    with _redis_down():
        response = api_client.post(
            "/api/v1/auth/login",
            {"email": "ann@example.com", "password": "whatever-1"},
            format="json",
            HTTP_X_TENANT="alpha",
        )

    assert response.status_code == 503
    assert response.json()["error"]["code"] == "RATE_LIMIT_UNAVAILABLE"
    assert response["Retry-After"] == "5"


def test_registration_fails_closed_when_redis_is_down(api_client):
    TenantFactory(slug="alpha")

    with _redis_down():
        response = api_client.post(
            "/api/v1/auth/register",
            {"email": "new@example.com", "password": "a-long-password-1"},
            format="json",
            HTTP_X_TENANT="alpha",
        )

    assert response.status_code == 503
    assert response.json()["error"]["code"] == "RATE_LIMIT_UNAVAILABLE"


@pytest.fixture
def fake_stripe(settings):
    with FakeStripeServer() as fake:
        settings.STRIPE_API_BASE = fake.url
        settings.STRIPE_MAX_NETWORK_RETRIES = 0
        yield fake


def test_a_deposit_fails_open_when_redis_is_down(api_client, fake_stripe):
    config = PSPConfigFactory()
    fake_stripe.valid_keys.add(config.secret_key())
    player = PlayerFactory(tenant=config.tenant)
    token = token_for(player)

    with _redis_down():
        response = api_client.post(
            "/api/v1/deposits",
            {"amount": "50.00", "currency": "EUR"},
            format="json",
            HTTP_X_TENANT=config.tenant.slug,
            HTTP_AUTHORIZATION=f"Bearer {token}",
            HTTP_IDEMPOTENCY_KEY="redis-down-1",
        )

    assert response.status_code == 201, response.content
    assert response.json()["state"] == "pending_provider"
