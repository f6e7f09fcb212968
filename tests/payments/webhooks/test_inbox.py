"""The webhook inbox: per-endpoint deduplication, row locks, unreadable events
(issue 8, defects 9, 12 and 13)."""

import json

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from payments.models import WebhookInbox
from tests.factories import PlayerFactory
from tests.payments.conftest import post_event, signed_headers, stripe_event
from tests.payments.factories import PSPConfigFactory, pending_deposit
from wallet.models import Deposit
from wallet.selectors import balance_list

pytestmark = pytest.mark.django_db


def test_two_brands_on_one_stripe_account_each_apply_the_event_once(client):
    """Stripe sends one event to every endpoint of an account. Brand B's endpoint
    seeing it first must not make brand A's delivery a duplicate."""
    brand_a, brand_b = PSPConfigFactory(), PSPConfigFactory()
    player = PlayerFactory(tenant=brand_a.tenant)
    deposit = pending_deposit(player, 5000)
    event = stripe_event(deposit, "checkout.session.completed")
    at_b = post_event(client, brand_b, event)
    at_a = post_event(client, brand_a, event)
    again_at_a = post_event(client, brand_a, event)
    # Acknowledged on receipt (issue 9); applied by the task (eager in tests).
    assert at_b.json() == {"received": True, "duplicate": False, "status": "received"}
    assert at_a.json() == {"received": True, "duplicate": False, "status": "received"}
    assert again_at_a.json()["duplicate"] is True
    first_at = WebhookInbox.objects.exclude(event_id="").order_by("id")
    assert [(row.config_id, row.status) for row in first_at] == [
        (brand_b.pk, WebhookInbox.Status.IGNORED),
        (brand_a.pk, WebhookInbox.Status.PROCESSED),
    ]
    deposit.refresh_from_db()
    assert deposit.state == Deposit.State.COMPLETED
    assert balance_list(player=player)[0].available_minor == 5000


def test_a_signed_but_malformed_event_is_a_json_400_kept_for_reprocessing(client):
    config = PSPConfigFactory()
    deposit = pending_deposit(PlayerFactory(tenant=config.tenant), 5000)
    event = stripe_event(deposit, "checkout.session.completed")
    event["data"]["object"]["amount_total"] = "abc"
    response = post_event(client, config, event)
    assert response.status_code == 400
    assert response["Content-Type"] == "application/json"
    assert response.json()["error"]["code"] == "WEBHOOK_PAYLOAD_INVALID"
    delivery = WebhookInbox.objects.get()
    assert delivery.status == WebhookInbox.Status.FAILED
    assert delivery.error.startswith("WEBHOOK_PAYLOAD_INVALID")
    deposit.refresh_from_db()
    assert deposit.state == Deposit.State.PENDING_PROVIDER


@pytest.mark.postgres
def test_applying_a_delivery_locks_the_inbox_row_not_the_brands_psp_config(client):
    """All deliveries of one brand and PSP queued behind each other when the
    config row was locked with the inbox row."""
    config = PSPConfigFactory()
    deposit = pending_deposit(PlayerFactory(tenant=config.tenant), 5000)
    body = json.dumps(stripe_event(deposit, "checkout.session.completed")).encode()
    with CaptureQueriesContext(connection) as queries:
        response = client.post(
            f"/api/v1/webhooks/stripe/{config.endpoint_id}/",
            data=body,
            content_type="application/json",
            **signed_headers(body, config.webhook_secret()),
        )
    assert response.status_code == 200
    # Row locks are FOR NO KEY UPDATE (they change no key; see docs/architecture.md).
    locking = [q["sql"] for q in queries if "FOR NO KEY UPDATE" in q["sql"]]
    assert locking
    assert not [
        sql
        for sql in locking
        if '"payments_pspconfig"' in sql and "FOR NO KEY UPDATE OF" not in sql
    ]


def test_an_unreadable_event_is_applied_by_reprocessing_once_the_parser_reads_it(
    client, monkeypatch
):
    """The delivery of defect 13 stays reprocessable: once the parser is fixed (here
    a parser that reads the odd amount), the operator's reprocess applies it once."""
    from common.actors import Actor
    from payments.providers.stripe import mapping
    from payments.webhooks.services import webhook_reprocess

    config = PSPConfigFactory()
    player = PlayerFactory(tenant=config.tenant)
    deposit = pending_deposit(player, 5000)
    event = stripe_event(deposit, "checkout.session.completed")
    event["data"]["object"]["amount_total"] = "5000"  # a string, not Stripe's int
    assert post_event(client, config, event).status_code == 400
    delivery = WebhookInbox.objects.get()

    strict = mapping._amount

    def lenient(obj, field):
        return strict({**obj, field: int(obj[field])}, field)

    monkeypatch.setattr(mapping, "_amount", lenient)
    processed = webhook_reprocess(inbox=delivery, actor=Actor.system("tests"))
    assert processed.status == WebhookInbox.Status.PROCESSED
    assert balance_list(player=player)[0].available_minor == 5000
