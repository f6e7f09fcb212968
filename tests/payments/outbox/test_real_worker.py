"""Webhook → Redis → a real Celery worker process → credit, and a worker killed in
the middle of applying: the sweep finishes the job, the money moves once."""

import psycopg
import pytest
from celery.app.task import Task

from payments.models import WebhookInbox
from payments.outbox import outbox_sweep
from tests.factories import PlayerFactory
from tests.payments.conftest import post_event, stripe_event
from tests.payments.factories import PSPConfigFactory, pending_deposit
from tests.payments.outbox.conftest import database_url, wait_until
from wallet.models import JournalTransaction
from wallet.selectors import balance_list, ledger_invariants_check

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

Status = WebhookInbox.Status


def _broker_down(self, *args, **kwargs):
    raise ConnectionError("broker unreachable")


def credits_of(deposit) -> int:
    return JournalTransaction.objects.filter(
        tenant_id=deposit.tenant_id, reference=f"deposit:{deposit.pk}"
    ).count()


def status_of(inbox_id: int) -> str:
    return WebhookInbox.objects.values_list("status", flat=True).get(pk=inbox_id)


def test_webhook_is_acknowledged_then_applied_by_a_real_worker(client, start_worker):
    worker = start_worker()
    config = PSPConfigFactory()
    player = PlayerFactory(tenant=config.tenant)
    deposit = pending_deposit(player, 5000)

    response = post_event(
        client,
        config,
        stripe_event(deposit, "checkout.session.completed"),
        HTTP_X_REQUEST_ID="req-webhook-e2e-1",
    )
    assert response.status_code == 200
    assert response["X-Request-ID"] == "req-webhook-e2e-1"
    inbox_id = WebhookInbox.objects.get().pk

    wait_until(lambda: status_of(inbox_id) == Status.PROCESSED)
    assert credits_of(deposit) == 1
    (balance,) = balance_list(player=player)
    assert balance.available_minor == 5000
    assert ledger_invariants_check(tenant_id=config.tenant_id) == []
    # The request id of the webhook's request follows it into the worker's log.
    worker.wait_for('"request_id": "req-webhook-e2e-1"')
    assert any(
        "webhook.applied" in line and "req-webhook-e2e-1" in line
        for line in worker.lines
    )


def test_deliveries_nudged_in_batches_by_the_publisher_are_each_applied_once(
    client, start_worker, settings
):
    """As under gunicorn: the request hands the nudge to the process's publisher
    thread, which sends the deliveries of a few milliseconds as one batch task."""
    from common import queue as task_queue

    settings.TASK_PUBLISH_IN_BACKGROUND = True
    settings.TASK_PUBLISH_LINGER_MS = 300
    task_queue._current_publisher = None
    worker = start_worker(concurrency=2)
    config = PSPConfigFactory()
    player = PlayerFactory(tenant=config.tenant)
    deposits = [pending_deposit(player, 1000 + n) for n in range(6)]
    try:
        for n, deposit in enumerate(deposits):
            event = stripe_event(deposit, "checkout.session.completed")
            response = post_event(client, config, event, HTTP_X_REQUEST_ID=f"req-b{n}")
            assert response.status_code == 200
            post_event(client, config, event)  # the PSP's redelivery
    finally:
        task_queue._current_publisher = None

    wait_until(
        lambda: WebhookInbox.objects.filter(status=Status.PROCESSED).count() == 6,
        explain=worker.lines,
    )
    assert WebhookInbox.objects.filter(status=Status.DUPLICATE).count() == 6
    assert [credits_of(deposit) for deposit in deposits] == [1] * 6
    (balance,) = balance_list(player=player)
    assert balance.available_minor == sum(1000 + n for n in range(6))
    assert ledger_invariants_check(tenant_id=config.tenant_id) == []
    # Each delivery is applied under the request id of the request that stored it.
    for n in range(6):
        worker.wait_for(f'"request_id": "req-b{n}"')


def test_a_worker_killed_mid_task_leaves_the_row_for_the_sweep_and_credits_once(
    client, start_worker
):
    config = PSPConfigFactory()
    player = PlayerFactory(tenant=config.tenant)
    deposit = pending_deposit(player, 5000)
    event = stripe_event(deposit, "checkout.session.completed")

    first = start_worker()
    with psycopg.connect(database_url(), autocommit=False) as blocker:
        # Store the delivery with its publish lost, hold its row, then let the sweep
        # hand it to the worker, which blocks inside the apply: kill it there.
        with pytest.MonkeyPatch.context() as patch:
            patch.setattr(Task, "apply_async", _broker_down)
            post_event(client, config, event)
        inbox_id = WebhookInbox.objects.get().pk
        blocker.execute(
            "SELECT id FROM payments_webhookinbox WHERE id = %s FOR UPDATE",
            [inbox_id],
        )
        assert outbox_sweep(stale_seconds=0)["webhooks"] == 1

        def worker_waits_on_the_row() -> bool:
            with psycopg.connect(database_url(), autocommit=True) as probe:
                (waiting,) = probe.execute(
                    "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type "
                    "= 'Lock' AND datname = current_database()"
                ).fetchone()
            return waiting >= 1

        wait_until(worker_waits_on_the_row)
        first.kill()
        blocker.rollback()

    assert status_of(inbox_id) == Status.RECEIVED
    assert credits_of(deposit) == 0

    second = start_worker()
    assert outbox_sweep(stale_seconds=0)["webhooks"] == 1
    wait_until(lambda: status_of(inbox_id) == Status.PROCESSED, explain=second.lines)
    assert outbox_sweep(stale_seconds=0)["webhooks"] == 0
    post_event(client, config, event)  # and the PSP's redelivery is a duplicate
    wait_until(
        lambda: WebhookInbox.objects.filter(status=Status.DUPLICATE).count() == 1
    )
    assert credits_of(deposit) == 1
    (balance,) = balance_list(player=player)
    assert balance.available_minor == 5000
    assert ledger_invariants_check(tenant_id=config.tenant_id) == []
