"""The row is the outbox: a lost task message, a failing application and a dead
worker all end with the money applied once, by the sweep or the admin."""

import pytest
from celery.app.task import Task
from django.db import transaction

from payments.models import WebhookInbox
from payments.outbox import outbox_sweep, retry_delay_seconds
from tests.factories import PlayerFactory
from tests.payments.conftest import post_event, stripe_event
from tests.payments.factories import PSPConfigFactory, pending_deposit
from tests.withdrawals.factories import (
    OPERATOR,
    latest_attempt,
    verified_player,
    withdrawal_requested,
)
from wallet import services as wallet
from wallet.models import JournalTransaction, PayoutAttempt
from wallet.selectors import balance_list, ledger_invariants_check

pytestmark = pytest.mark.django_db

Status = WebhookInbox.Status


@pytest.fixture
def config():
    return PSPConfigFactory()


@pytest.fixture
def broker_down(monkeypatch):
    """Every publish fails, as when Redis is unreachable or the process dies
    between the commit and the publish."""

    def refuse(self, *args, **kwargs):
        raise ConnectionError("broker unreachable")

    monkeypatch.setattr(Task, "apply_async", refuse)
    return monkeypatch


def credits_of(deposit) -> int:
    return JournalTransaction.objects.filter(
        tenant_id=deposit.tenant_id, reference=f"deposit:{deposit.pk}"
    ).count()


def available(player) -> int:
    (balance,) = balance_list(player=player)
    return balance.available_minor


def test_a_message_lost_after_commit_is_applied_once_by_the_sweep(
    client, config, broker_down
):
    player = PlayerFactory(tenant=config.tenant)
    deposit = pending_deposit(player, 5000)
    event = stripe_event(deposit, "checkout.session.completed")
    response = post_event(client, config, event)
    assert response.status_code == 200  # stored and claimed: acknowledged
    inbox = WebhookInbox.objects.get()
    assert (inbox.status, inbox.event_id) == (Status.RECEIVED, event["id"])
    assert credits_of(deposit) == 0

    broker_down.undo()
    assert outbox_sweep(stale_seconds=0)["webhooks"] == 1
    assert outbox_sweep(stale_seconds=0)["webhooks"] == 0
    post_event(client, config, event)  # the PSP's redelivery: a duplicate
    inbox.refresh_from_db()
    assert inbox.status == Status.PROCESSED
    assert credits_of(deposit) == 1
    assert available(player) == 5000
    assert ledger_invariants_check(tenant_id=config.tenant_id) == []


def test_the_sweep_leaves_fresh_rows_to_their_own_message(client, config, broker_down):
    deposit = pending_deposit(PlayerFactory(tenant=config.tenant), 5000)
    post_event(client, config, stripe_event(deposit, "checkout.session.completed"))
    broker_down.undo()
    assert outbox_sweep(stale_seconds=3600)["webhooks"] == 0
    assert credits_of(deposit) == 0


def test_an_unverified_delivery_is_never_swept_into_application(client, config):
    deposit = pending_deposit(PlayerFactory(tenant=config.tenant), 5000)
    post_event(
        client,
        config,
        stripe_event(deposit, "checkout.session.completed"),
        secret="whsec_forged000000000000",
    )
    WebhookInbox.objects.update(status=Status.RECEIVED)  # as if verification crashed
    assert outbox_sweep(stale_seconds=0)["webhooks"] == 0
    assert credits_of(deposit) == 0


def test_a_delivery_that_keeps_failing_is_dead_lettered_then_redriven_in_the_admin(
    admin_client, config, settings, monkeypatch
):
    from payments.outbox import webhook_apply_attempt

    settings.TASK_MAX_ATTEMPTS = 3
    player = PlayerFactory(tenant=config.tenant)
    deposit = pending_deposit(player, 5000)

    def broken(**kwargs):
        raise RuntimeError("database hiccup")

    monkeypatch.setattr(wallet, "deposit_complete", broken)
    post_event(
        admin_client, config, stripe_event(deposit, "checkout.session.completed")
    )
    inbox = WebhookInbox.objects.get()
    assert inbox.status == Status.FAILED
    assert inbox.retry_at is not None  # backing off, not retried inline (eager)
    assert webhook_apply_attempt(inbox_id=inbox.pk) == retry_delay_seconds(2)
    assert webhook_apply_attempt(inbox_id=inbox.pk) is None
    inbox.refresh_from_db()
    assert (inbox.status, inbox.attempts) == (Status.DEAD, 3)
    assert outbox_sweep(stale_seconds=0)["webhooks"] == 0  # dead stays put

    monkeypatch.undo()
    listing = admin_client.get("/admin/payments/webhookinbox/?status__exact=dead")
    assert str(inbox.pk) in listing.content.decode()
    admin_client.post(
        "/admin/payments/webhookinbox/",
        {"action": "reprocess", "_selected_action": [inbox.pk]},
    )
    inbox.refresh_from_db()
    assert inbox.status == Status.PROCESSED
    assert credits_of(deposit) == 1
    assert available(player) == 5000


def test_retries_back_off_exponentially(settings):
    settings.TASK_RETRY_BACKOFF_SECONDS = 10
    assert [retry_delay_seconds(n) for n in (1, 2, 3, 4)] == [10, 20, 40, 80]
    assert retry_delay_seconds(30) == 3600


def test_a_payout_whose_dispatch_message_was_lost_is_sent_by_the_sweep(monkeypatch):
    from payments.withdrawals.services import withdrawal_review_approve

    def refuse(self, *args, **kwargs):
        raise ConnectionError("broker unreachable")

    monkeypatch.setattr(Task, "apply_async", refuse)
    withdrawal = withdrawal_requested(verified_player())
    with transaction.atomic():
        withdrawal_review_approve(withdrawal=withdrawal, actor=OPERATOR)
    assert latest_attempt(withdrawal).state == PayoutAttempt.State.PENDING
    monkeypatch.undo()
    assert outbox_sweep(stale_seconds=0)["payouts"] == 1
    assert latest_attempt(withdrawal).state == PayoutAttempt.State.SENT
    assert outbox_sweep(stale_seconds=0)["payouts"] == 0
