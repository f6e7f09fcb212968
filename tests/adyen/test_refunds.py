"""Operator refunds: pending until Adyen confirms, never more than was captured."""

import uuid

import pytest
from django.db import transaction

from common.actors import Actor
from payments.deposits.refunds import refund_request
from payments.exceptions import RefundExceedsRefundable, RefundNotAllowed
from payments.models import Refund
from payments.simulator.adyen import batch, notification_item
from tests.adyen.conftest import post_notification
from tests.payments.factories import pending_deposit
from wallet.models import Deposit
from wallet.selectors import balance_list, ledger_invariants_check

pytestmark = pytest.mark.django_db

OPERATOR = Actor.system("refund-tests")


def available(player, currency="EUR"):
    balances = {b.currency: b for b in balance_list(player=player)}
    return balances[currency].available_minor if currency in balances else 0


@pytest.fixture
def paid(client, adyen_config_model, player):
    deposit = pending_deposit(player, 5000, provider="adyen")
    post_notification(
        client,
        adyen_config_model,
        batch(
            notification_item(
                config=adyen_config_model, deposit=deposit, event="AUTHORISATION"
            )
        ),
    )
    deposit.refresh_from_db()
    assert deposit.state == Deposit.State.COMPLETED
    return deposit


def ask(deposit, amount_minor, capture):
    with capture(execute=True), transaction.atomic(durable=True):
        return refund_request(
            deposit_id=deposit.pk,
            tenant_id=deposit.tenant_id,
            amount_minor=amount_minor,
            reason="player asked",
            actor=OPERATOR,
            request_key=f"test-refund-{uuid.uuid4()}",
        )


def confirm(client, config, refund, event="REFUND", success=True):
    item = notification_item(
        config=config,
        deposit=refund.deposit,
        event=event,
        amount_minor=refund.amount_minor,
        merchant_reference=f"refund:{refund.pk}",
        psp_reference=refund.provider_reference or "REFUNDPSP0000001",
    )
    if not success:
        from payments.providers.adyen.webhooks import item_signature

        item["success"] = "false"
        item["additionalData"] = {
            "hmacSignature": item_signature(item, hmac_key=config.hmac_key())
        }
    return post_notification(client, config, batch(item))


def test_refund_is_sent_to_adyen_and_stays_pending_until_confirmed(
    client,
    adyen_config_model,
    player,
    paid,
    fake_adyen,
    django_capture_on_commit_callbacks,
):
    fake_adyen.status, fake_adyen.body = (
        201,
        {"pspReference": "RF001", "status": "received"},
    )
    refund = ask(paid, 2000, django_capture_on_commit_callbacks)
    [sent] = fake_adyen.requests
    assert sent["path"] == f"/payments/{paid.payment_reference}/refunds"
    assert sent["headers"]["Idempotency-Key"] == f"refund:{refund.pk}"
    assert sent["json"]["amount"] == {"currency": "EUR", "value": 2000}
    refund.refresh_from_db()
    assert (refund.state, refund.provider_reference) == ("pending", "RF001")
    assert available(player) == 5000

    assert confirm(client, adyen_config_model, refund).status_code == 200
    refund.refresh_from_db()
    paid.refresh_from_db()
    assert refund.state == "succeeded"
    assert paid.refunded_minor == 2000
    assert available(player) == 3000
    assert ledger_invariants_check(tenant_id=player.tenant_id) == []


def test_repeated_confirmation_books_the_refund_once(
    client,
    adyen_config_model,
    player,
    paid,
    fake_adyen,
    django_capture_on_commit_callbacks,
):
    fake_adyen.status, fake_adyen.body = (
        201,
        {"pspReference": "RF002", "status": "received"},
    )
    refund = ask(paid, 1500, django_capture_on_commit_callbacks)
    refund.refresh_from_db()
    confirm(client, adyen_config_model, refund)
    confirm(client, adyen_config_model, refund)
    assert available(player) == 3500


def test_partial_refunds_together_never_exceed_what_was_captured(
    adyen_config_model, player, paid, fake_adyen, django_capture_on_commit_callbacks
):
    fake_adyen.status, fake_adyen.body = (
        201,
        {"pspReference": "RF003", "status": "received"},
    )
    ask(paid, 3000, django_capture_on_commit_callbacks)
    ask(paid, 2000, django_capture_on_commit_callbacks)
    with pytest.raises(RefundExceedsRefundable) as caught:
        ask(paid, 1, django_capture_on_commit_callbacks)
    assert caught.value.details["refundable_minor"] == 0
    assert Refund.objects.count() == 2


def test_refund_larger_than_the_deposit_is_refused(
    adyen_config_model, paid, fake_adyen, django_capture_on_commit_callbacks
):
    with pytest.raises(RefundExceedsRefundable):
        ask(paid, 5001, django_capture_on_commit_callbacks)
    assert fake_adyen.requests == []


def test_refund_of_a_deposit_not_completed_is_refused(
    adyen_config_model, player, django_capture_on_commit_callbacks
):
    deposit = pending_deposit(player, 5000, provider="adyen")
    with pytest.raises(RefundNotAllowed):
        ask(deposit, 100, django_capture_on_commit_callbacks)


def test_refund_refused_by_adyen_fails_and_moves_nothing(
    adyen_config_model, player, paid, fake_adyen, django_capture_on_commit_callbacks
):
    fake_adyen.status, fake_adyen.body = (
        422,
        {"errorCode": "167", "message": "Original pspReference required"},
    )
    refund = ask(paid, 1000, django_capture_on_commit_callbacks)
    refund.refresh_from_db()
    assert refund.state == "failed"
    assert refund.failure_reason == "PROVIDER_ERROR: Original pspReference required"
    assert available(player) == 5000


def test_refund_failed_notification_fails_the_pending_refund(
    client,
    adyen_config_model,
    player,
    paid,
    fake_adyen,
    django_capture_on_commit_callbacks,
):
    fake_adyen.status, fake_adyen.body = (
        201,
        {"pspReference": "RF004", "status": "received"},
    )
    refund = ask(paid, 1000, django_capture_on_commit_callbacks)
    refund.refresh_from_db()
    confirm(client, adyen_config_model, refund, success=False)
    refund.refresh_from_db()
    assert refund.state == "failed"
    assert available(player) == 5000


def test_refunded_reversed_gives_the_player_the_money_back(
    client,
    adyen_config_model,
    player,
    paid,
    fake_adyen,
    django_capture_on_commit_callbacks,
):
    fake_adyen.status, fake_adyen.body = (
        201,
        {"pspReference": "RF005", "status": "received"},
    )
    refund = ask(paid, 1000, django_capture_on_commit_callbacks)
    refund.refresh_from_db()
    confirm(client, adyen_config_model, refund)
    assert available(player) == 4000
    confirm(client, adyen_config_model, refund, event="REFUNDED_REVERSED")
    refund.refresh_from_db()
    paid.refresh_from_db()
    assert refund.state == "reversed"
    assert available(player) == 5000
    assert paid.needs_review
    assert ledger_invariants_check(tenant_id=player.tenant_id) == []


def test_refund_made_in_the_adyen_back_office_is_recorded_and_booked(
    client, adyen_config_model, player, paid
):
    item = notification_item(
        config=adyen_config_model,
        deposit=paid,
        event="REFUND",
        amount_minor=500,
        merchant_reference="made-in-customer-area",
        psp_reference="CAREFUND000001",
    )
    post_notification(client, adyen_config_model, batch(item))
    refund = Refund.objects.get()
    assert (refund.state, refund.amount_minor) == ("succeeded", 500)
    assert available(player) == 4500


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_operators_refunding_at_once_cannot_exceed_the_deposit(
    adyen_config_model, player, settings
):
    import threading

    from django.db import connection
    from django.test import Client

    deposit = pending_deposit(player, 5000, provider="adyen")
    post_notification(
        Client(),
        adyen_config_model,
        batch(
            notification_item(
                config=adyen_config_model, deposit=deposit, event="AUTHORISATION"
            )
        ),
    )
    # Nothing listens here: each refund's dispatch after commit finds Adyen
    # unreachable and leaves the refund pending, which is what counts.
    settings.ADYEN_CHECKOUT_BASE_URL = "http://127.0.0.1:9"
    start = threading.Barrier(2)
    outcomes = []

    def operator_refunds():
        try:
            start.wait()
            with transaction.atomic(durable=True):
                refund_request(
                    deposit_id=deposit.pk,
                    tenant_id=deposit.tenant_id,
                    amount_minor=3000,
                    reason="same complaint, two operators",
                    actor=OPERATOR,
                    request_key=f"test-refund-{uuid.uuid4()}",
                )
            outcomes.append("refund")
        except RefundExceedsRefundable:
            outcomes.append("refused")
        finally:
            connection.close()

    threads = [threading.Thread(target=operator_refunds) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(outcomes) == ["refund", "refused"]
    assert Refund.objects.filter(deposit=deposit).count() == 1
