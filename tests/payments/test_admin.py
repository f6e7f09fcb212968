"""Operator pages: scoped to the operator's brands; secrets write-only."""

import pytest

from audit.models import AuditEvent
from payments.models import PSPConfig, WebhookInbox
from tests.factories import OperatorFactory, PlayerFactory
from tests.payments.conftest import post_event, stripe_event
from tests.payments.factories import PSPConfigFactory, pending_deposit
from wallet import services as wallet
from wallet.models import Deposit

pytestmark = pytest.mark.django_db

CONFIGS = "/admin/payments/pspconfig/"
INBOX = "/admin/payments/webhookinbox/"
DEPOSITS = "/admin/wallet/deposit/"


@pytest.fixture
def two_brands(client):
    mine, theirs = PSPConfigFactory(), PSPConfigFactory()
    for config in (mine, theirs):
        deposit = pending_deposit(PlayerFactory(tenant=config.tenant))
        post_event(client, config, stripe_event(deposit, "checkout.session.expired"))
    operator = OperatorFactory(tenants=[mine.tenant])
    client.force_login(operator)
    return mine, theirs


def test_psp_config_admin_shows_only_the_operators_brands(client, two_brands):
    mine, theirs = two_brands
    listing = client.get(CONFIGS)
    assert listing.status_code == 200
    assert mine.tenant.name in listing.content.decode()
    assert theirs.tenant.name not in listing.content.decode()
    assert client.get(f"{CONFIGS}{mine.pk}/change/").status_code == 200
    assert client.get(f"{CONFIGS}{theirs.pk}/change/").status_code == 404


def test_webhook_inbox_admin_shows_only_the_operators_brands(client, two_brands):
    mine, theirs = two_brands
    own = WebhookInbox.objects.get(tenant=mine.tenant)
    foreign = WebhookInbox.objects.get(tenant=theirs.tenant)
    listing = client.get(INBOX).content.decode()
    assert f"{INBOX}{own.pk}/change/" in listing
    assert f"{INBOX}{foreign.pk}/change/" not in listing
    assert client.get(f"{INBOX}{own.pk}/change/").status_code == 200
    assert client.get(f"{INBOX}{foreign.pk}/change/").status_code == 404


def test_deposit_admin_shows_only_the_operators_brands(client, two_brands):
    mine, theirs = two_brands
    own = Deposit.objects.get(tenant=mine.tenant)
    foreign = Deposit.objects.get(tenant=theirs.tenant)
    assert client.get(f"{DEPOSITS}{own.pk}/change/").status_code == 200
    assert client.get(f"{DEPOSITS}{foreign.pk}/change/").status_code == 404


def test_secrets_are_masked_and_never_echoed_in_the_form(client, two_brands):
    mine, _ = two_brands
    page = client.get(f"{CONFIGS}{mine.pk}/change/").content.decode()
    assert mine.secret_key() not in page
    assert mine.webhook_secret() not in page
    assert mine.secret_key_encrypted not in page
    assert "sk_test_••••" in page
    assert f"/api/v1/webhooks/stripe/{mine.endpoint_id}/" in page


def test_saving_without_secrets_keeps_them_and_audits_no_secret(client, two_brands):
    mine, _ = two_brands
    old_key = mine.secret_key()
    response = client.post(
        f"{CONFIGS}{mine.pk}/change/",
        {
            "tenant": mine.tenant_id,
            "provider": "stripe",
            "mode": "test",
            "enabled": "on",
            "currencies": '["EUR"]',
            "publishable_key": "pk_test_new",
            "secret_key": "",
            "webhook_secret": "whsec_rotatedsecret9999",
        },
    )
    assert response.status_code == 302
    mine.refresh_from_db()
    assert mine.secret_key() == old_key
    assert mine.webhook_secret() == "whsec_rotatedsecret9999"
    event = AuditEvent.objects.filter(action="psp_config.updated").get()
    assert event.after["replaced"] == ["webhook signing key"]
    assert "whsec_rotatedsecret9999" not in str(event.after)


def test_a_live_config_refuses_a_test_key(client, two_brands):
    mine, _ = two_brands
    response = client.post(
        f"{CONFIGS}{mine.pk}/change/",
        {
            "tenant": mine.tenant_id,
            "provider": "stripe",
            "mode": "live",
            "currencies": "[]",
            "secret_key": "sk_test_notforlive1234",
        },
    )
    assert response.status_code == 200
    assert PSPConfig.objects.get(pk=mine.pk).mode == "test"


def test_check_credentials_action_calls_stripe(client, two_brands, fake_stripe):
    mine, _ = two_brands
    fake_stripe.valid_keys.add(mine.secret_key())
    response = client.post(
        CONFIGS,
        {"action": "check_credentials", "_selected_action": [mine.pk]},
        follow=True,
    )
    assert "credentials accepted" in response.content.decode()
    assert fake_stripe.last("/v1/balance").headers["authorization"] == (
        f"Bearer {mine.secret_key()}"
    )


def test_check_credentials_action_reports_a_refused_key(
    client, two_brands, fake_stripe
):
    mine, _ = two_brands
    response = client.post(
        CONFIGS,
        {"action": "check_credentials", "_selected_action": [mine.pk]},
        follow=True,
    )
    page = response.content.decode()
    assert "PROVIDER_ERROR" in page
    assert mine.secret_key() not in page


def test_reprocess_applies_a_failed_delivery(client, two_brands, monkeypatch):
    mine, _ = two_brands
    deposit = pending_deposit(PlayerFactory(tenant=mine.tenant))

    def broken(**kwargs):
        raise RuntimeError("database hiccup")

    monkeypatch.setattr(wallet, "deposit_complete", broken)
    post_event(client, mine, stripe_event(deposit, "checkout.session.completed"))
    monkeypatch.undo()
    failed = WebhookInbox.objects.get(status="failed")
    client.post(INBOX, {"action": "reprocess", "_selected_action": [failed.pk]})
    failed.refresh_from_db()
    assert failed.status == "processed"
    assert Deposit.objects.get(pk=deposit.pk).state == Deposit.State.COMPLETED


def test_reprocess_refuses_rejected_deliveries(client, two_brands):
    mine, _ = two_brands
    deposit = pending_deposit(PlayerFactory(tenant=mine.tenant))
    post_event(
        client,
        mine,
        stripe_event(deposit, "checkout.session.completed"),
        secret="whsec_forgedsecret1234",
    )
    rejected = WebhookInbox.objects.get(status="rejected")
    response = client.post(
        INBOX, {"action": "reprocess", "_selected_action": [rejected.pk]}, follow=True
    )
    assert "WEBHOOK_NOT_REPROCESSABLE" in response.content.decode()
    assert Deposit.objects.get(pk=deposit.pk).state == Deposit.State.PENDING_PROVIDER


def test_operator_cannot_reprocess_another_brands_delivery(client, two_brands):
    _, theirs = two_brands
    foreign = WebhookInbox.objects.get(tenant=theirs.tenant)
    WebhookInbox.objects.filter(pk=foreign.pk).update(status="failed")
    client.post(INBOX, {"action": "reprocess", "_selected_action": [foreign.pk]})
    assert WebhookInbox.objects.get(pk=foreign.pk).status == "failed"
