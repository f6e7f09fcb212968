"""Stripe refunds and disputes go through the same refund and dispute lifecycle as
Adyen's (issue 8, defects 3 and 4)."""

import secrets
import time

import pytest

from payments.models import Dispute, Refund
from tests.factories import OperatorFactory, PlayerFactory
from tests.payments.conftest import post_event, stripe_event
from tests.payments.factories import PSPConfigFactory, pending_deposit
from wallet.models import Deposit, JournalTransaction
from wallet.selectors import balance_list, ledger_invariants_check

pytestmark = pytest.mark.django_db


@pytest.fixture
def config(fake_stripe):
    config = PSPConfigFactory()
    fake_stripe.valid_keys.add(config.secret_key())
    return config


@pytest.fixture
def player(config):
    return PlayerFactory(tenant=config.tenant)


def available(player):
    [balance] = balance_list(player=player)
    return balance.available_minor


def paid(client, config, player, amount_minor=5000):
    deposit = pending_deposit(player, amount_minor)
    post_event(client, config, stripe_event(deposit, "checkout.session.completed"))
    deposit.refresh_from_db()
    return deposit


def envelope(event_type: str, obj: dict) -> dict:
    return {
        "id": f"evt_{secrets.token_hex(10)}",
        "object": "event",
        "api_version": "2024-06-20",
        "created": int(time.time()),
        "data": {"object": obj},
        "livemode": False,
        "type": event_type,
    }


def refund_object(deposit, refund, *, status: str) -> dict:
    return {
        "id": refund.provider_reference,
        "object": "refund",
        "amount": refund.amount_minor,
        "currency": "eur",
        "payment_intent": deposit.payment_reference,
        "metadata": {"deposit_id": str(deposit.pk), "refund": f"refund:{refund.pk}"},
        "status": status,
    }


def dispute_object(deposit, *, amount_minor: int, status: str) -> dict:
    return {
        "id": f"dp_{deposit.pk}",
        "object": "dispute",
        "amount": amount_minor,
        "charge": f"ch_{deposit.pk}",
        "currency": "eur",
        "payment_intent": deposit.payment_reference,
        "metadata": {},
        "reason": "fraudulent",
        "status": status,
    }


def admin_refund(client, config, deposit, amount: str, captured) -> Refund:
    client.force_login(OperatorFactory(tenants=[config.tenant]))
    with captured(execute=True):
        response = client.post(
            "/admin/payments/refund/add/",
            {
                "deposit": deposit.pk,
                "amount": amount,
                "reason": "goodwill",
                "request_key": f"form-{secrets.token_hex(4)}",
            },
        )
    assert response.status_code == 302
    return Refund.objects.get(deposit=deposit)


def test_charge_refunded_settles_the_refund_the_operator_asked_for(
    client, config, player, django_capture_on_commit_callbacks
):
    deposit = paid(client, config, player)
    refund = admin_refund(
        client, config, deposit, "20.00", django_capture_on_commit_callbacks
    )
    assert refund.state == Refund.State.PENDING
    event = stripe_event(deposit, "charge.refunded", amount_minor=2000)
    assert post_event(client, config, event).status_code == 200
    refund.refresh_from_db()
    deposit.refresh_from_db()
    assert refund.state == Refund.State.SUCCEEDED
    assert deposit.refunded_minor == 2000
    assert available(player) == 3000
    # Not counted twice: 30.00 is still refundable, not 10.00.
    from payments.admin import refundable_minor

    assert refundable_minor(deposit=deposit) == 3000


def test_a_failed_stripe_refund_restores_what_it_took(
    client, config, player, django_capture_on_commit_callbacks
):
    deposit = paid(client, config, player)
    refund = admin_refund(
        client, config, deposit, "20.00", django_capture_on_commit_callbacks
    )
    post_event(
        client, config, stripe_event(deposit, "charge.refunded", amount_minor=2000)
    )
    assert available(player) == 3000
    failed = envelope(
        "charge.refund.updated", refund_object(deposit, refund, status="failed")
    )
    assert post_event(client, config, failed).status_code == 200
    refund.refresh_from_db()
    assert refund.state == Refund.State.REVERSED
    assert available(player) == 5000
    assert ledger_invariants_check(tenant_id=config.tenant_id) == []


def test_a_stripe_dispute_is_a_dispute_and_winning_it_reverses_the_chargeback(
    client, config, player
):
    deposit = paid(client, config, player)
    opened = envelope(
        "charge.dispute.created",
        dispute_object(deposit, amount_minor=5000, status="needs_response"),
    )
    assert post_event(client, config, opened).status_code == 200
    dispute = Dispute.objects.get(deposit=deposit)
    assert dispute.stage == Dispute.Stage.CHARGEBACK
    assert available(player) == 0
    won = envelope(
        "charge.dispute.closed",
        dispute_object(deposit, amount_minor=5000, status="won"),
    )
    assert post_event(client, config, won).status_code == 200
    dispute.refresh_from_db()
    assert dispute.stage == Dispute.Stage.CHARGEBACK_REVERSED
    assert available(player) == 5000
    assert ledger_invariants_check(tenant_id=config.tenant_id) == []


def test_a_lost_stripe_dispute_is_final(client, config, player):
    deposit = paid(client, config, player)
    for status, event_type in (
        ("needs_response", "charge.dispute.created"),
        ("lost", "charge.dispute.closed"),
    ):
        event = envelope(
            event_type, dispute_object(deposit, amount_minor=5000, status=status)
        )
        assert post_event(client, config, event).status_code == 200
    assert Dispute.objects.get(deposit=deposit).stage == "lost"
    assert available(player) == 0


def test_money_arriving_twice_for_one_stripe_deposit_is_flagged_not_credited(
    client, config, player
):
    deposit = paid(client, config, player)
    second = stripe_event(deposit, "checkout.session.completed")
    second["data"]["object"]["payment_intent"] = "pi_second_payment"
    assert post_event(client, config, second).status_code == 200
    deposit.refresh_from_db()
    assert deposit.needs_review is True
    assert available(player) == 5000
    assert (
        JournalTransaction.objects.filter(
            kind=JournalTransaction.Kind.DEPOSIT, reference=f"deposit:{deposit.pk}"
        ).count()
        == 1
    )
    assert deposit.state == Deposit.State.COMPLETED
