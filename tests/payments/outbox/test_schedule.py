"""Beat's schedule names registered tasks, and the ops tasks run the same commands
as cron."""

import pytest
from celery import current_app
from django.conf import settings

pytestmark = pytest.mark.django_db


def test_every_scheduled_task_is_registered():
    current_app.autodiscover_tasks(force=True)
    scheduled = {entry["task"] for entry in settings.CELERY_BEAT_SCHEDULE.values()}
    assert scheduled == {
        "payments.outbox_sweep",
        "payments.expire_stale_deposits",
        "payments.reconcile_payouts",
        "payments.prune_webhook_inbox",
        "wallet.reconcile",
        "casino.worker_heartbeat",
        "audit.seal",
        "wallet.checkpoint_system_balances",
        "reconciliation.settlement_inbox",
        "crm.refresh_segments",
    }
    assert scheduled <= set(current_app.tasks)


@pytest.mark.parametrize(
    ("task", "says"),
    [
        ("payments.expire_stale_deposits", "examined"),
        ("payments.reconcile_payouts", "examined"),
        ("payments.prune_webhook_inbox", "rejected deliveries"),
        ("wallet.reconcile", "Reconciliation clean"),
        ("payments.outbox_sweep", "webhooks"),
        ("reconciliation.settlement_inbox", "RECONCILIATION_INBOX_DIR is not set"),
    ],
)
def test_ops_tasks_run_their_commands(task, says):
    current_app.autodiscover_tasks(force=True)
    result = current_app.tasks[task].apply()
    assert result.successful(), result.traceback
    assert says in str(result.result)


@pytest.mark.parametrize(
    "task",
    ["audit.seal", "wallet.checkpoint_system_balances", "crm.refresh_segments"],
)
def test_the_sweeps_of_issues_11_and_12_run_on_the_worker(task):
    current_app.autodiscover_tasks(force=True)
    result = current_app.tasks[task].apply()
    assert result.successful(), result.traceback
