"""Celery tasks of payments: thin doors onto the services, each re-drivable from a
row id (payments/outbox.py says which rows and states). Retries back off; a webhook
delivery that keeps failing is dead-lettered (admin: Webhook inbox › status dead ›
Reprocess). In eager mode (development, tests) a failure is not retried inline: the
sweep or the admin re-drives it."""

from __future__ import annotations

import io

from celery import shared_task
from django.core.management import call_command
from django.db import DatabaseError

from common.request_id import request_id_new, request_id_reset, request_id_set
from payments import outbox
from payments.deposits.refunds import refund_dispatch as refund_dispatch_service
from payments.deposits.services import deposit_checkout_resume
from payments.exceptions import ProviderUnavailable

# Infrastructure hiccups (database restarting, connection dropped) are retried with
# backoff; a row these give up on stays in its state for the sweep.
_TRANSIENT = {
    "autoretry_for": (DatabaseError,),
    "retry_backoff": 5,
    "retry_backoff_max": 600,
    "max_retries": 5,
}


@shared_task(bind=True, name="payments.webhook_apply", **_TRANSIENT)
def webhook_apply(self, *, inbox_id: int) -> None:
    delay = outbox.webhook_apply_attempt(inbox_id=inbox_id)
    if delay is not None and not self.request.is_eager:
        raise self.retry(countdown=delay, max_retries=None)


@shared_task(bind=True, name="payments.webhook_apply_batch", **_TRANSIENT)
def webhook_apply_batch(self, *, inbox_ids: list[int], request_ids: list[str]) -> None:
    """Deliveries nudged together by a web process (common.queue's publisher):
    each applied on its own, in its own transaction and under the request id of
    the request that stored it; one that failed is retried on its own. A batch
    retried after a database hiccup skips what it already applied."""
    for inbox_id, request_id in zip(inbox_ids, request_ids, strict=True):
        token = request_id_set(request_id or request_id_new())
        try:
            delay = outbox.webhook_apply_attempt(inbox_id=inbox_id)
        finally:
            request_id_reset(token)
        if delay is not None and not self.request.is_eager:
            webhook_apply.apply_async(kwargs={"inbox_id": inbox_id}, countdown=delay)


@shared_task(name="payments.payout_dispatch", **_TRANSIENT)
def payout_dispatch(*, attempt_id: int) -> None:
    outbox.payout_dispatch_counted(attempt_id=attempt_id)


@shared_task(name="payments.refund_dispatch", **_TRANSIENT)
def refund_dispatch(*, refund_id: int) -> None:
    refund_dispatch_service(refund_id=refund_id)


@shared_task(bind=True, name="payments.deposit_checkout_open", **_TRANSIENT)
def deposit_checkout_open(self, *, deposit_id: int, return_url: str) -> None:
    try:
        deposit_checkout_resume(deposit_id=deposit_id, return_url=return_url)
    except ProviderUnavailable as exc:
        if not self.request.is_eager:
            raise self.retry(exc=exc, countdown=30, max_retries=10) from exc


@shared_task(name="payments.outbox_sweep")
def outbox_sweep() -> dict[str, int]:
    return outbox.outbox_sweep()


def _command(name: str) -> str:
    out = io.StringIO()
    call_command(name, stdout=out)
    return out.getvalue()[-2000:]


# The ops commands on beat's schedule (settings.CELERY_BEAT_SCHEDULE), through the
# same door as cron: the command and its services.
@shared_task(name="payments.expire_stale_deposits")
def expire_stale_deposits() -> str:
    return _command("expire_stale_deposits")


@shared_task(name="payments.reconcile_payouts")
def reconcile_payouts() -> str:
    return _command("reconcile_payouts")


@shared_task(name="payments.prune_webhook_inbox")
def prune_webhook_inbox() -> str:
    return _command("prune_webhook_inbox")
