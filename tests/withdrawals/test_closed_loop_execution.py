"""Closed-loop payouts executed (issue 13's undone part): an approved withdrawal's
refund legs go back to the deposit methods through the refund flow, paid from the
withdrawal's own held money; only the bank remainder is paid out. The money is never
withdrawable twice, a failed leg gives its part back to the player once, the
withdrawal is paid when every leg is final, and ``reconcile`` stays clean."""

from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import call_command
from django.db import transaction

from common import clock
from common.actors import Actor
from payments.models import Refund
from payments.simulator.adyen import batch, notification_item
from payments.withdrawals.manual import manual_payout_mark_paid
from payments.withdrawals.services import (
    closed_loop_legs_redrive,
    withdrawal_review_approve,
)
from tests.adyen.conftest import post_notification
from tests.payments.conftest import post_event, stripe_event
from tests.payments.factories import PSPConfigFactory, pending_deposit
from tests.withdrawals.factories import verified_player, withdrawal_requested
from wallet import services as wallet
from wallet.models import Deposit, Hold, Withdrawal
from wallet.selectors import (
    balance_list,
    ledger_invariants_check,
    payments_invariants_check,
)

pytestmark = pytest.mark.django_db
OPERATOR = Actor(type=Actor.USER, label="operator-in-tests")
W = Withdrawal.State


def balances(player) -> tuple[int, int]:
    [balance] = balance_list(player=player)
    return balance.available_minor, balance.held_minor


def reconcile_clean(tenant_id) -> None:
    assert ledger_invariants_check(tenant_id=tenant_id) == []
    assert payments_invariants_check(tenant_id=tenant_id) == []


def old_deposit(player, amount_minor):
    """A completed deposit outside the refund window: its share goes to the bank."""
    deposit = pending_deposit(player, amount_minor, provider="manual")
    with transaction.atomic():
        deposit = wallet.deposit_complete(
            deposit_id=deposit.pk,
            tenant_id=deposit.tenant_id,
            amount_minor=amount_minor,
            currency="EUR",
            payment_reference=f"bank-{deposit.pk}",
            actor=Actor.psp("manual"),
        )
    Deposit.objects.filter(pk=deposit.pk).update(
        completed_at=clock.now() - timedelta(days=400)
    )
    return deposit


def approve(withdrawal, capture):
    with capture(execute=True), transaction.atomic(durable=True):
        withdrawal_review_approve(withdrawal=withdrawal, actor=OPERATOR)
    withdrawal.refresh_from_db()
    return withdrawal


def bank_paid(withdrawal):
    attempt = withdrawal.attempts.get()
    with transaction.atomic(durable=True):
        manual_payout_mark_paid(attempt=attempt, actor=OPERATOR, bank_reference="B-1")
    withdrawal.refresh_from_db()
    return attempt


# --- Stripe --------------------------------------------------------------------------


@pytest.fixture
def stripe(fake_stripe):
    config = PSPConfigFactory()
    fake_stripe.valid_keys.add(config.secret_key())
    return config


def stripe_paid(client, config, player, amount_minor):
    deposit = pending_deposit(player, amount_minor)
    post_event(client, config, stripe_event(deposit, "checkout.session.completed"))
    deposit.refresh_from_db()
    assert deposit.state == Deposit.State.COMPLETED
    return deposit


def test_one_refundable_deposit_and_a_remainder_make_one_refund_and_one_payout(
    client, stripe, fake_stripe, django_capture_on_commit_callbacks
):
    player = verified_player(tenant=stripe.tenant, balance_minor=0)
    old_deposit(player, 3_000)
    card = stripe_paid(client, stripe, player, 5_000)
    withdrawal = withdrawal_requested(player, 7_000)
    assert withdrawal.state == W.REQUESTED  # refundable deposits: reviewed

    withdrawal = approve(withdrawal, django_capture_on_commit_callbacks)

    [refund] = Refund.objects.all()
    key = f"withdrawal:{withdrawal.pk}:refund-leg:{card.pk}"
    assert (refund.deposit_id, refund.amount_minor, refund.request_key) == (
        card.pk,
        5_000,
        key,
    )
    assert refund.state == Refund.State.PENDING and refund.provider_reference
    [sent] = [r for r in fake_stripe.requests if r.path == "/v1/refunds"]
    assert sent.form["amount"] == "5000"
    assert sent.form["payment_intent"] == card.payment_reference
    [attempt] = withdrawal.attempts.all()
    assert withdrawal.state == W.PAYOUT_PENDING
    assert withdrawal.hold.amount_minor == 2_000  # the payout sends the remainder
    assert refund.hold.amount_minor == 5_000 and refund.hold.reference == key
    assert balances(player) == (1_000, 7_000)  # nothing left to withdraw twice
    with pytest.raises(Exception) as refused:
        withdrawal_requested(player, 1_001)
    assert refused.value.code == "INSUFFICIENT_FUNDS"
    reconcile_clean(stripe.tenant_id)

    bank_paid(withdrawal)
    assert withdrawal.state == W.PAYOUT_PENDING  # the refund leg is not final yet
    assert balances(player) == (1_000, 5_000)
    reconcile_clean(stripe.tenant_id)

    event = stripe_event(card, "charge.refunded", amount_minor=5_000)
    assert post_event(client, stripe, event).status_code == 200
    assert post_event(client, stripe, event).status_code == 200  # a repeat

    withdrawal.refresh_from_db()
    refund.refresh_from_db()
    card.refresh_from_db()
    assert withdrawal.state == W.PAID
    assert refund.state == Refund.State.SUCCEEDED
    assert card.refunded_minor == 5_000
    assert balances(player) == (1_000, 0)
    reconcile_clean(stripe.tenant_id)
    out = StringIO()
    call_command("reconcile", stdout=out)  # exits 1 on any violation


def test_a_repeat_approval_or_redrive_refunds_nothing_twice(
    client, stripe, fake_stripe, django_capture_on_commit_callbacks
):
    player = verified_player(tenant=stripe.tenant, balance_minor=0)
    stripe_paid(client, stripe, player, 5_000)
    withdrawal = approve(
        withdrawal_requested(player, 4_000), django_capture_on_commit_callbacks
    )

    approve(withdrawal, django_capture_on_commit_callbacks)
    assert closed_loop_legs_redrive(withdrawal_id=withdrawal.pk) == 0

    assert Refund.objects.count() == 1
    assert len([r for r in fake_stripe.requests if r.path == "/v1/refunds"]) == 1
    assert withdrawal.attempts.count() == 0  # no bank leg: no payout at all
    assert balances(player) == (1_000, 4_000)
    reconcile_clean(stripe.tenant_id)


def test_a_leg_never_sent_is_sent_by_the_redrive(
    client, stripe, fake_stripe, django_capture_on_commit_callbacks
):
    player = verified_player(tenant=stripe.tenant, balance_minor=0)
    stripe_paid(client, stripe, player, 5_000)
    withdrawal = withdrawal_requested(player, 4_000)
    with transaction.atomic(durable=True):  # commit callbacks lost (a crash)
        withdrawal_review_approve(withdrawal=withdrawal, actor=OPERATOR)
    assert Refund.objects.get().provider_reference == ""

    assert closed_loop_legs_redrive(withdrawal_id=withdrawal.pk) == 1
    assert closed_loop_legs_redrive(withdrawal_id=withdrawal.pk) == 0

    assert Refund.objects.get().provider_reference.startswith("re_")
    assert len([r for r in fake_stripe.requests if r.path == "/v1/refunds"]) == 1


def test_a_refund_stripe_refuses_at_once_gives_that_part_back_to_the_player(
    client, stripe, fake_stripe, django_capture_on_commit_callbacks
):
    player = verified_player(tenant=stripe.tenant, balance_minor=0)
    old_deposit(player, 3_000)
    stripe_paid(client, stripe, player, 5_000)
    fake_stripe.fail_with_status = 402  # Stripe refuses the refund request

    withdrawal = approve(
        withdrawal_requested(player, 7_000), django_capture_on_commit_callbacks
    )

    refund = Refund.objects.get()
    assert refund.state == Refund.State.FAILED
    assert balances(player) == (6_000, 2_000)  # 50.00 back; the bank leg held
    assert withdrawal.state == W.PAYOUT_PENDING
    reconcile_clean(stripe.tenant_id)
    bank_paid(withdrawal)
    assert withdrawal.state == W.PAID
    assert balances(player) == (6_000, 0)
    reconcile_clean(stripe.tenant_id)


def test_a_bank_leg_returned_before_the_refund_leg_is_final_is_the_players_again(
    client, stripe, fake_stripe, django_capture_on_commit_callbacks
):
    from wallet.services import withdrawal_payout_returned

    player = verified_player(tenant=stripe.tenant, balance_minor=0)
    old_deposit(player, 3_000)
    card = stripe_paid(client, stripe, player, 5_000)
    withdrawal = approve(
        withdrawal_requested(player, 7_000), django_capture_on_commit_callbacks
    )
    attempt = bank_paid(withdrawal)

    with transaction.atomic(durable=True):
        withdrawal_payout_returned(attempt=attempt, actor=OPERATOR, reason="closed")
    post_event(
        client, stripe, stripe_event(card, "charge.refunded", amount_minor=5_000)
    )

    withdrawal.refresh_from_db()
    assert withdrawal.state == W.RETURNED
    assert balances(player) == (3_000, 0)  # the bank's 20.00 back, 50.00 refunded
    reconcile_clean(stripe.tenant_id)


def test_refunds_covering_everything_pay_the_withdrawal_without_a_payout(
    client, stripe, fake_stripe, django_capture_on_commit_callbacks
):
    player = verified_player(tenant=stripe.tenant, balance_minor=0)
    card = stripe_paid(client, stripe, player, 5_000)
    withdrawal = approve(
        withdrawal_requested(player, 4_000), django_capture_on_commit_callbacks
    )
    assert withdrawal.state == W.APPROVED
    reconcile_clean(stripe.tenant_id)

    post_event(
        client, stripe, stripe_event(card, "charge.refunded", amount_minor=4_000)
    )

    withdrawal.refresh_from_db()
    assert withdrawal.state == W.PAID
    assert withdrawal.attempts.count() == 0
    assert balances(player) == (1_000, 0)
    reconcile_clean(stripe.tenant_id)


# --- Adyen ---------------------------------------------------------------------------


def adyen_paid(client, config, player, amount_minor):
    deposit = pending_deposit(player, amount_minor, provider="adyen")
    post_notification(
        client,
        config,
        batch(notification_item(config=config, deposit=deposit, event="AUTHORISATION")),
    )
    deposit.refresh_from_db()
    assert deposit.state == Deposit.State.COMPLETED
    return deposit


def adyen_refund_outcome(client, config, refund, *, success):
    from payments.providers.adyen.webhooks import item_signature

    item = notification_item(
        config=config,
        deposit=refund.deposit,
        event="REFUND",
        amount_minor=refund.amount_minor,
        merchant_reference=f"refund:{refund.pk}",
        psp_reference=refund.provider_reference,
    )
    if not success:
        item["success"] = "false"
        item["additionalData"] = {
            "hmacSignature": item_signature(item, hmac_key=config.hmac_key())
        }
    return post_notification(client, config, batch(item))


@pytest.fixture
def adyen_withdrawal(
    client, adyen_config_model, fake_adyen, django_capture_on_commit_callbacks
):
    """An Adyen card deposit of 50.00 and an old one of 30.00; 70.00 withdrawn and
    approved: a 50.00 refund leg to the card, 20.00 to the bank."""
    fake_adyen.status, fake_adyen.body = 201, {"pspReference": "RFLEG01"}
    player = verified_player(tenant=adyen_config_model.tenant, balance_minor=0)
    old_deposit(player, 3_000)
    card = adyen_paid(client, adyen_config_model, player, 5_000)
    withdrawal = approve(
        withdrawal_requested(player, 7_000), django_capture_on_commit_callbacks
    )
    [sent] = [r for r in fake_adyen.requests if r["path"].endswith("/refunds")]
    assert sent["json"]["amount"] == {"currency": "EUR", "value": 5_000}
    assert sent["path"] == f"/payments/{card.payment_reference}/refunds"
    return player, withdrawal, Refund.objects.get()


def test_a_failed_refund_leg_gives_that_part_back_to_the_player_once(
    client, adyen_config_model, adyen_withdrawal
):
    player, withdrawal, refund = adyen_withdrawal
    assert balances(player) == (1_000, 7_000)

    assert (
        adyen_refund_outcome(
            client, adyen_config_model, refund, success=False
        ).status_code
        == 200
    )
    adyen_refund_outcome(client, adyen_config_model, refund, success=False)

    refund.refresh_from_db()
    assert refund.state == Refund.State.FAILED
    assert refund.hold.state == Hold.State.VOIDED
    assert balances(player) == (6_000, 2_000)  # 50.00 back once; 20.00 still held
    withdrawal.refresh_from_db()
    assert withdrawal.state == W.PAYOUT_PENDING
    reconcile_clean(adyen_config_model.tenant_id)

    bank_paid(withdrawal)

    assert withdrawal.state == W.PAID  # every leg final
    assert balances(player) == (6_000, 0)
    reconcile_clean(adyen_config_model.tenant_id)


def test_an_adyen_refund_leg_after_the_bank_leg_pays_the_withdrawal(
    client, adyen_config_model, adyen_withdrawal
):
    player, withdrawal, refund = adyen_withdrawal
    bank_paid(withdrawal)
    assert withdrawal.state == W.PAYOUT_PENDING

    adyen_refund_outcome(client, adyen_config_model, refund, success=True)

    withdrawal.refresh_from_db()
    assert withdrawal.state == W.PAID
    assert balances(player) == (1_000, 0)
    reconcile_clean(adyen_config_model.tenant_id)


def test_every_leg_failing_without_a_bank_leg_rejects_and_returns_it_all(
    client, adyen_config_model, fake_adyen, django_capture_on_commit_callbacks
):
    fake_adyen.status, fake_adyen.body = 201, {"pspReference": "RFLEG02"}
    player = verified_player(tenant=adyen_config_model.tenant, balance_minor=0)
    adyen_paid(client, adyen_config_model, player, 5_000)
    withdrawal = approve(
        withdrawal_requested(player, 5_000), django_capture_on_commit_callbacks
    )
    refund = Refund.objects.get()

    adyen_refund_outcome(client, adyen_config_model, refund, success=False)

    withdrawal.refresh_from_db()
    assert withdrawal.state == W.REJECTED
    assert balances(player) == (5_000, 0)
    reconcile_clean(adyen_config_model.tenant_id)


def test_the_review_page_shows_the_executed_legs_with_their_state(
    client, stripe, fake_stripe, django_capture_on_commit_callbacks
):
    from tests.factories import OperatorFactory

    player = verified_player(tenant=stripe.tenant, balance_minor=0)
    old_deposit(player, 3_000)
    card = stripe_paid(client, stripe, player, 5_000)
    withdrawal = approve(
        withdrawal_requested(player, 7_000), django_capture_on_commit_callbacks
    )
    client.force_login(OperatorFactory(tenants=[stripe.tenant]))

    html = client.get(f"/admin/wallet/withdrawal/{withdrawal.pk}/change/").content
    page = html.decode()

    assert "Payout split (closed loop, executed)" in page
    plan = page[
        page.index('id="payout-plan"') : page.index(
            "</table>", page.index('id="payout-plan"')
        )
    ]
    assert f"#{card.pk}" in plan
    assert "50.00 EUR" in plan and "Pending at the PSP" in plan
    assert "20.00 EUR" in plan and "Bank transfer" in plan
