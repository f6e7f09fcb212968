"""A hanging PSP costs a player or an operator no more than the request's budget:
the deposit answers "pending, poll" and stays pending; the approve answers at once
and the payout waits on the queue for a worker."""

import time

import pytest
from celery import current_app
from django.db import transaction
from kombu import pools as kombu_pools

from common.actors import Actor
from payments.tasks import deposit_checkout_open
from payments.withdrawals.services import withdrawal_review_approve
from tests.factories import PlayerFactory, token_for
from tests.payments.factories import PSPConfigFactory
from tests.withdrawals.factories import (
    OPERATOR,
    latest_attempt,
    verified_player,
    withdrawal_requested,
)
from wallet import services as wallet
from wallet.models import Deposit, PayoutAttempt

pytestmark = pytest.mark.django_db


@pytest.fixture
def queued():
    """Tasks are published to an in-memory broker instead of running eagerly; the
    fixture returns a function that drains the queue and gives the task names."""
    app = current_app
    saved = {
        "task_always_eager": app.conf.task_always_eager,
        "broker_url": app.conf.broker_url,
    }
    app.conf.update(task_always_eager=False, broker_url="memory://")
    kombu_pools.reset()
    app._pool = None
    app.amqp._producer_pool = None

    def drain() -> list[tuple[str, dict]]:
        found = []
        with app.connection_for_read() as connection:
            queue = connection.SimpleQueue("celery")
            while queue.qsize():
                message = queue.get(timeout=1)
                found.append((message.headers["task"], message.payload[1]))
                message.ack()
            queue.close()
        return found

    yield drain
    app.conf.update(**saved)
    kombu_pools.reset()
    app._pool = None
    app.amqp._producer_pool = None


def test_a_hanging_stripe_leaves_the_deposit_request_inside_its_budget(
    api_client, fake_stripe, settings, queued
):
    settings.DEPOSIT_START_BUDGET_SECONDS = 0.5
    settings.STRIPE_MAX_NETWORK_RETRIES = 2
    fake_stripe.delay_seconds = 3
    config = PSPConfigFactory()
    fake_stripe.valid_keys.add(config.secret_key())
    player = PlayerFactory(tenant=config.tenant)

    started = time.monotonic()
    response = api_client.post(
        "/api/v1/deposits",
        {"amount": "50.00", "currency": "EUR"},
        format="json",
        HTTP_X_TENANT=player.tenant.slug,
        HTTP_AUTHORIZATION=f"Bearer {token_for(player)}",
        HTTP_IDEMPOTENCY_KEY="slow-1",
    )
    elapsed = time.monotonic() - started

    assert elapsed < 2.0  # 0.5 s budget, no retries; a hanging PSP took 61 s before
    assert response.status_code == 202
    error = response.json()["error"]
    assert error["code"] == "DEPOSIT_CHECKOUT_PENDING"
    deposit = Deposit.objects.get()
    assert error["details"]["deposit_id"] == deposit.pk
    assert deposit.state == Deposit.State.CREATED
    assert len(fake_stripe.requests) == 1  # tried once within the budget
    assert queued() == [
        (
            "payments.deposit_checkout_open",
            {"deposit_id": deposit.pk, "return_url": error_return_url(deposit)},
        )
    ]


def error_return_url(deposit) -> str:
    return f"http://testserver/deposits/{deposit.pk}/"


def test_the_worker_opens_the_checkout_later_with_the_full_timeout(
    fake_stripe, settings
):
    config = PSPConfigFactory()
    fake_stripe.valid_keys.add(config.secret_key())
    fake_stripe.delay_seconds = 1  # slower than a request's budget, fine for a worker
    settings.DEPOSIT_START_BUDGET_SECONDS = 0.2
    player = PlayerFactory(tenant=config.tenant)

    deposit, _ = wallet.deposit_create(
        player=player,
        provider="stripe",
        amount_minor=5000,
        currency="EUR",
        idempotency_key="slow-2",
        actor=Actor.for_player(player),
    )
    deposit_checkout_open.apply(
        kwargs={"deposit_id": deposit.pk, "return_url": "http://testserver/d/"}
    )
    deposit.refresh_from_db()
    assert deposit.state == Deposit.State.PENDING_PROVIDER
    assert deposit.checkout_url.startswith("https://checkout.stripe.com/")
    assert fake_stripe.last("/v1/checkout/sessions").headers["idempotency-key"] == (
        f"deposit:{deposit.pk}"
    )


def test_approve_returns_at_once_and_the_payout_waits_for_a_worker(
    queued, django_capture_on_commit_callbacks
):
    withdrawal = withdrawal_requested(verified_player())
    started = time.monotonic()
    with django_capture_on_commit_callbacks(execute=True), transaction.atomic():
        withdrawal_review_approve(withdrawal=withdrawal, actor=OPERATOR)
    assert time.monotonic() - started < 1.0
    attempt = latest_attempt(withdrawal)
    assert attempt.state == PayoutAttempt.State.PENDING  # not sent from the request
    assert queued() == [("payments.payout_dispatch", {"attempt_id": attempt.pk})]
