import base64
import json

import pytest

from tests.adyen.factories import HMAC_KEY, adyen_psp_config  # noqa: F401
from tests.adyen.fake_adyen import FakeAdyen
from tests.factories import PlayerFactory
from tests.payments.conftest import simulator  # noqa: F401  (shared fixture)


@pytest.fixture
def adyen_config_model(db):
    return adyen_psp_config()


@pytest.fixture
def player(adyen_config_model):
    return PlayerFactory(tenant=adyen_config_model.tenant)


@pytest.fixture
def fake_adyen(settings):
    server = FakeAdyen()
    settings.ADYEN_CHECKOUT_BASE_URL = server.url
    settings.ADYEN_TRANSFERS_BASE_URL = server.url
    yield server
    server.close()


def auth_header(user="adyen-hook", password="hook-password-1") -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


def post_notification(client, config, document, *, authorization=None):
    return client.post(
        f"/api/v1/webhooks/adyen/{config.endpoint_id}/",
        data=json.dumps(document).encode(),
        content_type="application/json",
        HTTP_AUTHORIZATION=authorization or auth_header(),
    )
