"""Verified events move money through the deposit state machine, exactly once."""

import pytest

from casino.models import Player
from payments.models import WebhookInbox
from tests.factories import PlayerFactory, fund
from tests.payments.conftest import post_event, stripe_event
from tests.payments.factories import PSPConfigFactory, pending_deposit
from wallet import services as wallet
from wallet.models import Account, Deposit, JournalTransaction
from wallet.selectors import account_balance, balance_list, ledger_invariants_check

pytestmark = pytest.mark.django_db

Kind = JournalTransaction.Kind


@pytest.fixture
def config():
    return PSPConfigFactory()


@pytest.fixture
def player(config):
    return PlayerFactory(tenant=config.tenant)


def available(player, currency="EUR"):
    balances = {b.currency: b for b in balance_list(player=player)}
    return balances[currency].available_minor if currency in balances else 0


def deposit_credits(deposit):
    return JournalTransaction.objects.filter(
        tenant_id=deposit.tenant_id,
        kind=Kind.DEPOSIT,
        reference=f"deposit:{deposit.pk}",
    ).count()


def test_completed_session_credits_the_player_once(client, config, player):
    deposit = pending_deposit(player, 5000)
    response = post_event(
        client, config, stripe_event(deposit, "checkout.session.completed")
    )
    assert response.status_code == 200
    deposit.refresh_from_db()
    assert deposit.state == Deposit.State.COMPLETED
    assert deposit.payment_reference == f"pi_sim_{deposit.pk}"
    assert available(player) == 5000
    assert deposit_credits(deposit) == 1
    clearing = Account.objects.get(
        tenant=config.tenant, kind=Account.Kind.PSP_CLEARING, currency="EUR"
    )
    assert account_balance(account=clearing) == -5000
    assert WebhookInbox.objects.get().status == WebhookInbox.Status.PROCESSED


def test_duplicate_delivery_is_200_and_moves_nothing(client, config, player):
    deposit = pending_deposit(player, 5000)
    event = stripe_event(deposit, "checkout.session.completed")
    first = post_event(client, config, event)
    second = post_event(client, config, event)
    assert first.status_code == second.status_code == 200
    assert second.json()["duplicate"] is True
    assert available(player) == 5000
    assert deposit_credits(deposit) == 1
    statuses = sorted(WebhookInbox.objects.values_list("status", flat=True))
    assert statuses == ["duplicate", "processed"]


def test_a_second_completed_event_with_a_new_id_does_not_credit_again(
    client, config, player
):
    deposit = pending_deposit(player, 5000)
    post_event(client, config, stripe_event(deposit, "checkout.session.completed"))
    post_event(client, config, stripe_event(deposit, "checkout.session.completed"))
    assert available(player) == 5000
    assert deposit_credits(deposit) == 1


def test_unpaid_completion_waits_for_the_async_payment(client, config, player):
    deposit = pending_deposit(player, 5000)
    unpaid = stripe_event(deposit, "checkout.session.completed")
    unpaid["data"]["object"]["payment_status"] = "unpaid"
    post_event(client, config, unpaid)
    deposit.refresh_from_db()
    assert deposit.state == Deposit.State.PENDING_PROVIDER
    assert available(player) == 0
    post_event(
        client,
        config,
        stripe_event(deposit, "checkout.session.async_payment_succeeded"),
    )
    deposit.refresh_from_db()
    assert deposit.state == Deposit.State.COMPLETED
    assert available(player) == 5000


def test_async_payment_failure_fails_the_deposit(client, config, player):
    deposit = pending_deposit(player, 5000)
    post_event(
        client, config, stripe_event(deposit, "checkout.session.async_payment_failed")
    )
    deposit.refresh_from_db()
    assert deposit.state == Deposit.State.FAILED
    assert available(player) == 0


def test_expired_after_completed_does_not_regress(client, config, player):
    deposit = pending_deposit(player, 5000)
    post_event(client, config, stripe_event(deposit, "checkout.session.completed"))
    post_event(client, config, stripe_event(deposit, "checkout.session.expired"))
    deposit.refresh_from_db()
    assert deposit.state == Deposit.State.COMPLETED
    assert available(player) == 5000
    assert WebhookInbox.objects.filter(status="processed").count() == 2


def test_completed_after_expired_is_credited_and_flagged(client, config, player):
    deposit = pending_deposit(player, 5000)
    post_event(client, config, stripe_event(deposit, "checkout.session.expired"))
    deposit.refresh_from_db()
    assert deposit.state == Deposit.State.EXPIRED
    post_event(client, config, stripe_event(deposit, "checkout.session.completed"))
    deposit.refresh_from_db()
    assert deposit.state == Deposit.State.COMPLETED
    assert deposit.needs_review is True
    assert "after the deposit was expired" in deposit.review_reason
    assert available(player) == 5000


def test_refund_before_completion_is_recorded_and_flagged(client, config, player):
    deposit = pending_deposit(player, 5000)
    response = post_event(client, config, stripe_event(deposit, "charge.refunded"))
    assert response.status_code == 200
    deposit = Deposit.objects.get(pk=deposit.pk)
    assert deposit.needs_review is True
    assert deposit.refunded_minor == 0
    assert not JournalTransaction.objects.filter(kind=Kind.REFUND).exists()


def test_amount_mismatch_is_flagged_and_not_credited(client, config, player):
    deposit = pending_deposit(player, 5000)
    response = post_event(
        client,
        config,
        stripe_event(deposit, "checkout.session.completed", amount_minor=500),
    )
    assert response.status_code == 200
    deposit.refresh_from_db()
    assert deposit.state == Deposit.State.PENDING_PROVIDER
    assert deposit.needs_review is True
    assert available(player) == 0


def test_currency_mismatch_is_flagged_and_not_credited(client, config, player):
    deposit = pending_deposit(player, 5000)
    event = stripe_event(deposit, "checkout.session.completed")
    event["data"]["object"]["currency"] = "usd"
    post_event(client, config, event)
    deposit.refresh_from_db()
    assert deposit.state == Deposit.State.PENDING_PROVIDER
    assert deposit.needs_review is True
    assert available(player) == 0
    assert available(player, "USD") == 0


def test_session_id_that_is_not_the_deposits_is_flagged(client, config, player):
    deposit = pending_deposit(player, 5000)
    event = stripe_event(deposit, "checkout.session.completed")
    event["data"]["object"]["id"] = "cs_test_someone_else"
    post_event(client, config, event)
    deposit.refresh_from_db()
    assert deposit.state == Deposit.State.PENDING_PROVIDER
    assert deposit.needs_review is True
    assert available(player) == 0


def test_event_for_another_brands_deposit_is_ignored(client, config):
    other_player = PlayerFactory()
    PSPConfigFactory(tenant=other_player.tenant)
    foreign = pending_deposit(other_player, 5000)
    response = post_event(
        client, config, stripe_event(foreign, "checkout.session.completed")
    )
    assert response.status_code == 200
    foreign.refresh_from_db()
    assert foreign.state == Deposit.State.PENDING_PROVIDER
    assert available(other_player) == 0
    assert WebhookInbox.objects.get().status == WebhookInbox.Status.IGNORED


def test_partial_then_full_refund_posts_balanced_reversals(client, config, player):
    deposit = pending_deposit(player, 5000)
    post_event(client, config, stripe_event(deposit, "checkout.session.completed"))
    post_event(
        client, config, stripe_event(deposit, "charge.refunded", amount_minor=2000)
    )
    post_event(
        client, config, stripe_event(deposit, "charge.refunded", amount_minor=2000)
    )
    post_event(
        client, config, stripe_event(deposit, "charge.refunded", amount_minor=5000)
    )
    deposit.refresh_from_db()
    assert deposit.refunded_minor == 5000
    assert available(player) == 0
    assert JournalTransaction.objects.filter(kind=Kind.REFUND).count() == 2
    clearing = Account.objects.get(
        tenant=config.tenant, kind=Account.Kind.PSP_CLEARING, currency="EUR"
    )
    assert account_balance(account=clearing) == 0
    assert ledger_invariants_check(tenant_id=config.tenant_id) == []


def test_dispute_debits_the_player_and_freezes_withdrawals(client, config, player):
    deposit = pending_deposit(player, 5000)
    post_event(client, config, stripe_event(deposit, "checkout.session.completed"))
    post_event(client, config, stripe_event(deposit, "charge.dispute.created"))
    post_event(client, config, stripe_event(deposit, "charge.dispute.created"))
    deposit.refresh_from_db()
    assert deposit.charged_back_minor == 5000
    assert deposit.needs_review is True
    assert available(player) == 0
    assert JournalTransaction.objects.filter(kind=Kind.CHARGEBACK).count() == 1
    assert Player.objects.get(pk=player.pk).withdrawals_frozen is True
    assert ledger_invariants_check(tenant_id=config.tenant_id) == []


def test_chargeback_after_the_money_was_spent_keeps_the_player_at_zero(
    client, config, player
):
    deposit = pending_deposit(player, 5000)
    post_event(client, config, stripe_event(deposit, "checkout.session.completed"))
    wallet.player_debit(
        player=player,
        currency="EUR",
        amount_minor=3500,
        destination_kind=Account.Kind.ADJUSTMENTS,
        kind=Kind.ADJUSTMENT,
        idempotency_key="spent",
        actor=wallet_actor(),
    )
    post_event(client, config, stripe_event(deposit, "charge.dispute.created"))
    assert available(player) == 0
    receivable = Account.objects.get(
        tenant=config.tenant, kind=Account.Kind.CHARGEBACK_RECEIVABLE, currency="EUR"
    )
    assert account_balance(account=receivable) == -3500
    chargeback = JournalTransaction.objects.get(kind=Kind.CHARGEBACK)
    assert chargeback.metadata == {
        "covered_by_player_minor": 1500,
        "receivable_minor": 3500,
    }
    assert ledger_invariants_check(tenant_id=config.tenant_id) == []


def test_dispute_is_booked_only_against_what_the_player_has_in_that_currency(
    client, config, player
):
    fund(player, 9900, currency="USD")
    deposit = pending_deposit(player, 5000)
    post_event(client, config, stripe_event(deposit, "checkout.session.completed"))
    wallet.player_debit(
        player=player,
        currency="EUR",
        amount_minor=5000,
        destination_kind=Account.Kind.ADJUSTMENTS,
        kind=Kind.ADJUSTMENT,
        idempotency_key="spent-all",
        actor=wallet_actor(),
    )
    post_event(client, config, stripe_event(deposit, "charge.dispute.created"))
    assert available(player, "USD") == 9900
    assert available(player, "EUR") == 0
    assert ledger_invariants_check(tenant_id=config.tenant_id) == []


def test_failed_processing_is_kept_and_the_retry_applies_it(
    client, config, player, monkeypatch
):
    deposit = pending_deposit(player, 5000)
    event = stripe_event(deposit, "checkout.session.completed")

    def broken(**kwargs):
        raise RuntimeError("database hiccup")

    monkeypatch.setattr(wallet, "deposit_complete", broken)
    first = post_event(client, config, event)
    # Acknowledged once stored: applying is the worker's job, and it failed.
    assert first.status_code == 200
    assert WebhookInbox.objects.get().status == WebhookInbox.Status.FAILED
    monkeypatch.undo()
    retry = post_event(client, config, event)
    assert retry.status_code == 200
    assert available(player) == 5000
    assert WebhookInbox.objects.get(event_id=event["id"]).status == "processed"


def wallet_actor():
    from common.actors import Actor

    return Actor.system("tests")


def test_unhandled_event_type_is_recorded_and_ignored(client, config, player):
    deposit = pending_deposit(player, 5000)
    event = stripe_event(deposit, "checkout.session.completed")
    event["type"] = "customer.created"
    response = post_event(client, config, event)
    assert response.status_code == 200
    inbox = WebhookInbox.objects.get()
    assert inbox.status == WebhookInbox.Status.IGNORED
    assert inbox.event_type == "customer.created"
    assert available(player) == 0
