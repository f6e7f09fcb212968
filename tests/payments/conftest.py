import importlib
import json
import time

import pytest
from django.urls import clear_url_caches

from payments.providers.stripe import webhooks
from payments.simulator.events import event_for
from tests.payments.factories import PSPConfigFactory
from tests.payments.fake_stripe import FakeStripeServer


def reload_urls() -> None:
    import casino.urls

    importlib.reload(casino.urls)
    clear_url_caches()


@pytest.fixture
def fake_stripe(settings):
    with FakeStripeServer() as fake:
        settings.STRIPE_API_BASE = fake.url
        settings.STRIPE_MAX_NETWORK_RETRIES = 0
        yield fake


@pytest.fixture
def simulator(settings):
    """The simulator's URLs exist only when the setting and DEBUG are on as the
    URLconf loads."""
    settings.PAYMENTS_SIMULATOR_ENABLED = True
    settings.DEBUG = True
    reload_urls()
    yield
    settings.PAYMENTS_SIMULATOR_ENABLED = False
    reload_urls()


@pytest.fixture
def stripe_config(db):
    return PSPConfigFactory()


def signed_headers(body: bytes, secret: str, *, timestamp: int | None = None) -> dict:
    header = webhooks.sign(
        payload=body,
        secret=secret,
        timestamp=int(time.time()) if timestamp is None else timestamp,
    )
    return {"HTTP_STRIPE_SIGNATURE": header}


def post_event(client, config, event: dict, *, secret: str | None = None, **extra):
    """Deliver ``event`` to the config's webhook URL as Stripe would."""
    body = json.dumps(event).encode()
    headers = signed_headers(body, secret or config.webhook_secret())
    headers.update(extra)
    return client.post(
        f"/api/v1/webhooks/stripe/{config.endpoint_id}/",
        data=body,
        content_type="application/json",
        **headers,
    )


def stripe_event(deposit, event_type: str, **kwargs) -> dict:
    return event_for(deposit, event_type, **kwargs)
