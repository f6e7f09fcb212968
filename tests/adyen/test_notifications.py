"""The Adyen notification endpoint: refusals move nothing, accepted items move money
exactly once through the wallet's deposit state machine."""

import threading

import pytest
from django.db import connection

from casino.models import Player
from common.actors import Actor
from payments.models import Dispute, WebhookInbox
from payments.providers.adyen.webhooks import item_signature
from payments.simulator.adyen import batch, notification_item
from tests.adyen.conftest import adyen_psp_config, auth_header, post_notification
from tests.factories import PlayerFactory
from tests.payments.factories import pending_deposit
from wallet import services as wallet
from wallet.models import Account, Deposit, JournalTransaction
from wallet.selectors import account_balance, balance_list, ledger_invariants_check

pytestmark = pytest.mark.django_db

Kind = JournalTransaction.Kind


def available(player, currency="EUR"):
    balances = {b.currency: b for b in balance_list(player=player)}
    return balances[currency].available_minor if currency in balances else 0


def credits(deposit):
    return JournalTransaction.objects.filter(
        tenant_id=deposit.tenant_id,
        kind=Kind.DEPOSIT,
        reference=f"deposit:{deposit.pk}",
    ).count()


def adyen_deposit(player, amount_minor=5000, currency="EUR"):
    return pending_deposit(player, amount_minor, currency, provider="adyen")


def item(config, deposit, event="AUTHORISATION", **kwargs):
    return notification_item(config=config, deposit=deposit, event=event, **kwargs)


def test_authorisation_credits_the_deposit_and_answers_accepted(
    client, adyen_config_model, player
):
    deposit = adyen_deposit(player)
    response = post_notification(
        client, adyen_config_model, batch(item(adyen_config_model, deposit))
    )
    assert response.status_code == 200
    assert response.content == b"[accepted]"
    deposit.refresh_from_db()
    assert deposit.state == Deposit.State.COMPLETED
    assert deposit.payment_reference == f"SIM{deposit.pk:013d}"
    assert available(player) == 5000
    inbox = WebhookInbox.objects.get()
    assert inbox.status == WebhookInbox.Status.PROCESSED
    assert inbox.event_id == f"SIM{deposit.pk:013d}:AUTHORISATION:true"
    assert "authorization" not in {k.lower() for k in inbox.headers}
    assert ledger_invariants_check(tenant_id=deposit.tenant_id) == []


def test_wrong_basic_auth_is_401_kept_as_rejected_and_moves_nothing(
    client, adyen_config_model, player
):
    deposit = adyen_deposit(player)
    response = post_notification(
        client,
        adyen_config_model,
        batch(item(adyen_config_model, deposit)),
        authorization=auth_header(password="wrong-password"),
    )
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "WEBHOOK_AUTHENTICATION_FAILED"
    deposit.refresh_from_db()
    assert deposit.state == Deposit.State.PENDING_PROVIDER
    assert available(player) == 0
    inbox = WebhookInbox.objects.get()
    assert (inbox.status, inbox.event_id) == (WebhookInbox.Status.REJECTED, "")


def test_tampered_amount_is_400_and_moves_nothing(client, adyen_config_model, player):
    deposit = adyen_deposit(player)
    tampered = item(adyen_config_model, deposit)
    tampered["amount"]["value"] = 500000
    response = post_notification(client, adyen_config_model, batch(tampered))
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "WEBHOOK_HMAC_INVALID"
    assert available(player) == 0


def test_batch_with_one_bad_item_applies_the_verified_items_and_keeps_the_bad_one(
    client, adyen_config_model, player
):
    """Issue 8, defect 14: refusing the whole batch made Adyen retry the good items
    for ever."""
    first, second = adyen_deposit(player), adyen_deposit(player, 700)
    bad = item(adyen_config_model, second)
    bad["success"] = "false"
    response = post_notification(
        client, adyen_config_model, batch(item(adyen_config_model, first), bad)
    )
    assert response.status_code == 200
    assert response.content == b"[accepted]"
    first.refresh_from_db()
    second.refresh_from_db()
    assert first.state == Deposit.State.COMPLETED
    assert second.state == Deposit.State.PENDING_PROVIDER
    rejected = WebhookInbox.objects.get(status=WebhookInbox.Status.REJECTED)
    assert rejected.error.startswith("WEBHOOK_HMAC_INVALID")
    assert '"success": "false"' in rejected.body


def test_batch_with_only_bad_items_is_refused_whole(client, adyen_config_model, player):
    deposit = adyen_deposit(player)
    bad = item(adyen_config_model, deposit)
    bad["success"] = "false"
    response = post_notification(client, adyen_config_model, batch(bad))
    assert response.status_code == 400
    assert available(player) == 0
    assert WebhookInbox.objects.get().status == WebhookInbox.Status.REJECTED


def test_merchant_account_of_another_tenant_is_refused(
    client, adyen_config_model, player
):
    other = adyen_psp_config(merchant_account="BrandBMerchant")
    other_player = PlayerFactory(tenant=other.tenant)
    other_deposit = adyen_deposit(other_player)
    # Correctly signed with brand A's key (as a company-level webhook would be), but
    # for brand B's merchant account.
    foreign = item(adyen_config_model, other_deposit) | {
        "merchantAccountCode": "BrandBMerchant"
    }
    foreign["additionalData"] = {
        "hmacSignature": item_signature(foreign, hmac_key=adyen_config_model.hmac_key())
    }
    response = post_notification(client, adyen_config_model, batch(foreign))
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "WEBHOOK_MERCHANT_ACCOUNT_MISMATCH"
    other_deposit.refresh_from_db()
    assert other_deposit.state == Deposit.State.PENDING_PROVIDER
    assert available(other_player) == 0


def test_another_tenants_deposit_reference_on_our_endpoint_moves_nothing(
    client, adyen_config_model
):
    other = adyen_psp_config(merchant_account="BrandBMerchant")
    other_player = PlayerFactory(tenant=other.tenant)
    other_deposit = adyen_deposit(other_player)
    # Our merchant account, our key, but naming brand B's deposit.
    response = post_notification(
        client, adyen_config_model, batch(item(adyen_config_model, other_deposit))
    )
    assert response.status_code == 200
    other_deposit.refresh_from_db()
    assert other_deposit.state == Deposit.State.PENDING_PROVIDER
    assert WebhookInbox.objects.get().status == WebhookInbox.Status.IGNORED


def test_duplicate_notification_credits_once(client, adyen_config_model, player):
    deposit = adyen_deposit(player)
    document = batch(item(adyen_config_model, deposit))
    first = post_notification(client, adyen_config_model, document)
    second = post_notification(client, adyen_config_model, document)
    assert (first.status_code, second.status_code) == (200, 200)
    assert second.content == b"[accepted]"
    assert credits(deposit) == 1
    assert available(player) == 5000
    statuses = sorted(WebhookInbox.objects.values_list("status", flat=True))
    assert statuses == ["duplicate", "processed"]


def test_batch_of_two_items_applies_each_once(client, adyen_config_model, player):
    first, second = adyen_deposit(player, 1000), adyen_deposit(player, 2500)
    document = batch(item(adyen_config_model, first), item(adyen_config_model, second))
    assert post_notification(client, adyen_config_model, document).status_code == 200
    assert post_notification(client, adyen_config_model, document).status_code == 200
    assert (credits(first), credits(second)) == (1, 1)
    assert available(player) == 3500


def test_refused_authorisation_fails_the_deposit(client, adyen_config_model, player):
    deposit = adyen_deposit(player)
    post_notification(
        client,
        adyen_config_model,
        batch(item(adyen_config_model, deposit, "AUTHORISATION_REFUSED")),
    )
    deposit.refresh_from_db()
    assert deposit.state == Deposit.State.FAILED
    assert available(player) == 0


def test_amount_adyen_reports_differently_is_flagged_not_credited(
    client, adyen_config_model, player
):
    deposit = adyen_deposit(player)
    post_notification(
        client,
        adyen_config_model,
        batch(item(adyen_config_model, deposit, amount_minor=4999)),
    )
    deposit.refresh_from_db()
    assert deposit.state == Deposit.State.PENDING_PROVIDER
    assert deposit.needs_review
    assert available(player) == 0


def test_clp_amount_is_converted_from_adyen_minor_units(
    client, adyen_config_model, player
):
    config = adyen_config_model
    config.tenant.allowed_currencies = [*config.tenant.allowed_currencies, "CLP"]
    config.tenant.save(update_fields=["allowed_currencies"])
    player.refresh_from_db()
    deposit = adyen_deposit(player, 5000, "CLP")
    payload = item(config, deposit)
    assert payload["amount"] == {"currency": "CLP", "value": 500000}
    post_notification(client, config, batch(payload))
    deposit.refresh_from_db()
    assert deposit.state == Deposit.State.COMPLETED
    assert available(player, "CLP") == 5000


def _paid(client, config, player, amount_minor=5000):
    deposit = adyen_deposit(player, amount_minor)
    post_notification(client, config, batch(item(config, deposit)))
    deposit.refresh_from_db()
    return deposit


def test_chargeback_after_balance_was_spent_books_receivable_and_freezes_withdrawals(
    client, adyen_config_model, player
):
    deposit = _paid(client, adyen_config_model, player)
    wallet.player_debit(
        player=player,
        currency="EUR",
        amount_minor=4000,
        destination_kind=Account.Kind.ADJUSTMENTS,
        kind=Kind.ADJUSTMENT,
        idempotency_key="spent-at-the-tables",
        actor=Actor.system("tests"),
    )
    response = post_notification(
        client,
        adyen_config_model,
        batch(item(adyen_config_model, deposit, "CHARGEBACK")),
    )
    assert response.status_code == 200
    assert available(player) == 0
    receivable = Account.objects.get(
        tenant=player.tenant, kind=Account.Kind.CHARGEBACK_RECEIVABLE, currency="EUR"
    )
    assert account_balance(account=receivable) == -4000
    assert Player.objects.get(pk=player.pk).withdrawals_frozen
    dispute = Dispute.objects.get(deposit=deposit)
    assert (dispute.stage, dispute.amount_minor) == ("chargeback", 5000)
    assert ledger_invariants_check(tenant_id=player.tenant_id) == []


def test_notification_of_chargeback_freezes_withdrawals_without_moving_money(
    client, adyen_config_model, player
):
    deposit = _paid(client, adyen_config_model, player)
    post_notification(
        client,
        adyen_config_model,
        batch(item(adyen_config_model, deposit, "NOTIFICATION_OF_CHARGEBACK")),
    )
    assert available(player) == 5000
    assert Player.objects.get(pk=player.pk).withdrawals_frozen
    assert Dispute.objects.get(deposit=deposit).stage == "notification_of_chargeback"


def test_chargeback_reversed_gives_back_what_the_chargeback_took(
    client, adyen_config_model, player
):
    deposit = _paid(client, adyen_config_model, player)
    for event in ("NOTIFICATION_OF_CHARGEBACK", "CHARGEBACK", "CHARGEBACK_REVERSED"):
        post_notification(
            client, adyen_config_model, batch(item(adyen_config_model, deposit, event))
        )
    assert available(player) == 5000
    dispute = Dispute.objects.get(deposit=deposit)
    assert dispute.stage == "chargeback_reversed"
    assert [entry["stage"] for entry in dispute.history] == [
        "notification_of_chargeback",
        "chargeback",
        "chargeback_reversed",
    ]
    assert ledger_invariants_check(tenant_id=player.tenant_id) == []


def test_late_notification_of_chargeback_does_not_hide_the_chargeback(
    client, adyen_config_model, player
):
    deposit = _paid(client, adyen_config_model, player)
    for event in ("CHARGEBACK", "NOTIFICATION_OF_CHARGEBACK"):
        post_notification(
            client, adyen_config_model, batch(item(adyen_config_model, deposit, event))
        )
    assert Dispute.objects.get(deposit=deposit).stage == "chargeback"


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_concurrent_duplicate_notifications_credit_once(adyen_config_model, player):
    from django.test import Client

    deposit = adyen_deposit(player)
    document = batch(item(adyen_config_model, deposit))
    start = threading.Barrier(4)
    statuses = []

    def deliver():
        try:
            start.wait()
            statuses.append(
                post_notification(Client(), adyen_config_model, document).status_code
            )
        finally:
            connection.close()

    threads = [threading.Thread(target=deliver) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert statuses == [200, 200, 200, 200]
    assert credits(deposit) == 1
    assert available(player) == 5000
    assert WebhookInbox.objects.filter(status="processed").count() == 1


def test_item_that_failed_to_apply_is_reprocessed_from_the_stored_delivery(
    client, adyen_config_model, player, monkeypatch
):
    from payments.webhooks import services as inbox_services
    from payments.webhooks.services import webhook_reprocess

    deposit = adyen_deposit(player)
    real_apply = inbox_services.deposit_event_apply

    def broken(**kwargs):
        raise RuntimeError("database hiccup")

    monkeypatch.setattr(inbox_services, "deposit_event_apply", broken)
    response = post_notification(
        client, adyen_config_model, batch(item(adyen_config_model, deposit))
    )
    assert response.status_code == 200  # acknowledged; the worker failed to apply
    inbox = WebhookInbox.objects.get()
    assert inbox.status == WebhookInbox.Status.FAILED
    assert available(player) == 0

    monkeypatch.setattr(inbox_services, "deposit_event_apply", real_apply)
    webhook_reprocess(inbox=inbox, actor=Actor.system("tests"))
    inbox.refresh_from_db()
    assert inbox.status == WebhookInbox.Status.PROCESSED
    assert available(player) == 5000


def test_one_item_failing_to_apply_does_not_stop_the_rest_of_the_batch(
    client, adyen_config_model, player, monkeypatch
):
    from payments.webhooks import services as inbox_services

    first, second = adyen_deposit(player, 1000), adyen_deposit(player, 2500)
    real_apply = inbox_services.deposit_event_apply

    def fails_for_first(*, tenant_id, provider, event):
        if event.deposit.deposit_id == first.pk:
            raise RuntimeError("database hiccup")
        return real_apply(tenant_id=tenant_id, provider=provider, event=event)

    monkeypatch.setattr(inbox_services, "deposit_event_apply", fails_for_first)
    document = batch(item(adyen_config_model, first), item(adyen_config_model, second))
    assert post_notification(client, adyen_config_model, document).status_code == 200
    assert (credits(first), credits(second)) == (0, 1)

    monkeypatch.setattr(inbox_services, "deposit_event_apply", real_apply)
    assert post_notification(client, adyen_config_model, document).status_code == 200
    assert (credits(first), credits(second)) == (1, 1)
    assert available(player) == 3500


def test_second_payment_for_a_completed_deposit_is_flagged_not_credited(
    client, adyen_config_model, player
):
    deposit = adyen_deposit(player)
    post_notification(
        client, adyen_config_model, batch(item(adyen_config_model, deposit))
    )
    deposit.refresh_from_db()
    second = item(adyen_config_model, deposit) | {"pspReference": "8815000000000002"}
    second["additionalData"] = {
        "hmacSignature": item_signature(second, hmac_key=adyen_config_model.hmac_key())
    }
    assert (
        post_notification(client, adyen_config_model, batch(second)).status_code == 200
    )
    deposit.refresh_from_db()
    assert deposit.needs_review
    assert "8815000000000002" in deposit.review_reason
    assert credits(deposit) == 1
    assert available(player) == 5000


def test_an_item_rejected_for_a_wrong_key_is_applied_once_the_key_is_fixed(
    client, adyen_config_model, player
):
    """Issue 8, defect 14: the unverifiable item is kept, reprocessable from the
    admin once the operator fixed the HMAC key."""
    from payments.config.services import psp_config_save
    from payments.webhooks.services import webhook_reprocess

    config = adyen_config_model
    good, late = adyen_deposit(player, 1000), adyen_deposit(player, 2500)
    signed_with_the_new_key = item(config, late)
    new_key = "AB" * 32
    signed_with_the_new_key["additionalData"]["hmacSignature"] = item_signature(
        signed_with_the_new_key, hmac_key=new_key
    )
    document = batch(item(config, good), signed_with_the_new_key)
    assert post_notification(client, config, document).status_code == 200
    assert (credits(good), credits(late)) == (1, 0)
    rejected = WebhookInbox.objects.get(status=WebhookInbox.Status.REJECTED)

    psp_config_save(
        actor=Actor.system("tests"), config=config, hmac_key=new_key, created=False
    )
    config.refresh_from_db()
    rejected.refresh_from_db()
    processed = webhook_reprocess(inbox=rejected, actor=Actor.system("tests"))
    assert processed.status == WebhookInbox.Status.PROCESSED
    assert (credits(good), credits(late)) == (1, 1)
    assert available(player) == 3500
