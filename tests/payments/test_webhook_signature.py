"""A delivery whose signature does not verify is a 400 that applies nothing."""

import json
import time

import pytest
import stripe

from payments.models import WebhookInbox
from payments.providers.stripe import webhooks
from tests.factories import PlayerFactory
from tests.payments.conftest import post_event, signed_headers, stripe_event
from tests.payments.factories import PSPConfigFactory, pending_deposit
from wallet.models import Deposit, JournalTransaction

pytestmark = pytest.mark.django_db


@pytest.fixture
def setup():
    config = PSPConfigFactory()
    player = PlayerFactory(tenant=config.tenant)
    deposit = pending_deposit(player)
    event = stripe_event(deposit, "checkout.session.completed")
    return config, deposit, event


def assert_nothing_applied(response, deposit):
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "WEBHOOK_SIGNATURE_INVALID"
    deposit.refresh_from_db()
    assert deposit.state == Deposit.State.PENDING_PROVIDER
    assert not JournalTransaction.objects.filter(tenant_id=deposit.tenant_id).exists()
    inbox = WebhookInbox.objects.get()
    assert inbox.status == WebhookInbox.Status.REJECTED
    assert inbox.event_id == ""


def url(config):
    return f"/api/v1/webhooks/stripe/{config.endpoint_id}/"


def test_tampered_body_is_refused(client, setup):
    config, deposit, event = setup
    body = json.dumps(event).encode()
    headers = signed_headers(body, config.webhook_secret())
    tampered = body.replace(b'"amount_total": 5000', b'"amount_total": 500000')
    assert tampered != body
    response = client.post(
        url(config), data=tampered, content_type="application/json", **headers
    )
    assert_nothing_applied(response, deposit)


def test_wrong_secret_is_refused(client, setup):
    config, deposit, event = setup
    response = post_event(client, config, event, secret="whsec_notthesecret123456")
    assert_nothing_applied(response, deposit)


def test_other_tenants_secret_is_refused(client, setup):
    config, deposit, event = setup
    other = PSPConfigFactory()
    response = post_event(client, config, event, secret=other.webhook_secret())
    assert_nothing_applied(response, deposit)


def test_timestamp_older_than_tolerance_is_refused(client, setup):
    config, deposit, event = setup
    body = json.dumps(event).encode()
    headers = signed_headers(
        body, config.webhook_secret(), timestamp=int(time.time()) - 301
    )
    response = client.post(
        url(config), data=body, content_type="application/json", **headers
    )
    assert_nothing_applied(response, deposit)


def test_timestamp_far_in_the_future_is_refused(client, setup):
    config, deposit, event = setup
    body = json.dumps(event).encode()
    headers = signed_headers(
        body, config.webhook_secret(), timestamp=int(time.time()) + 3600
    )
    response = client.post(
        url(config), data=body, content_type="application/json", **headers
    )
    assert_nothing_applied(response, deposit)


def test_missing_signature_header_is_refused(client, setup):
    config, deposit, event = setup
    response = client.post(
        url(config), data=json.dumps(event), content_type="application/json"
    )
    assert_nothing_applied(response, deposit)


def test_unknown_endpoint_id_is_404_and_stores_nothing(client, setup):
    config, deposit, event = setup
    body = json.dumps(event).encode()
    response = client.post(
        "/api/v1/webhooks/stripe/not-an-endpoint/",
        data=body,
        content_type="application/json",
        **signed_headers(body, config.webhook_secret()),
    )
    assert response.status_code == 404
    assert not WebhookInbox.objects.exists()


def test_our_signature_is_what_stripes_own_library_accepts():
    body = b'{"id":"evt_1","type":"checkout.session.completed"}'
    now = int(time.time())
    header = webhooks.sign(payload=body, secret="whsec_abc123def456", timestamp=now)
    assert stripe.WebhookSignature.verify_header(
        body.decode(), header, "whsec_abc123def456", tolerance=300
    )


def test_verify_accepts_any_of_several_v1_signatures():
    body = b"{}"
    good = webhooks.compute_signature(
        payload=body, secret="whsec_x1y2z3", timestamp=100
    )
    header = f"t=100,v1={'0' * 64},v1={good}"
    assert (
        webhooks.verify(payload=body, header=header, secret="whsec_x1y2z3", now=100)
        == 100
    )
