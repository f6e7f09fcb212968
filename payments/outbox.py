"""The database row is the outbox: what the payments tasks re-drive and how.

Every background job of payments starts from a committed row whose state says what is
left to do: a verified webhook delivery still ``received`` (or ``failed`` and due
again), a payout attempt still ``pending`` (never sent), a refund still ``pending``
without a PSP reference. A task message is only a nudge; ``outbox_sweep`` re-sends
the nudge for rows that waited too long (a crash between commit and enqueue, a lost
message, a dead worker), and the jobs are idempotent by the same row locks and
states the services use, so a second nudge applies nothing twice.
"""

from __future__ import annotations

import logging
from datetime import timedelta

from django.conf import settings
from django.utils import timezone

from common import clock
from common.queue import task_enqueue
from payments.exceptions import WebhookProcessingFailed
from payments.metrics import PAYOUT_DISPATCHES, WEBHOOK_APPLICATIONS
from payments.models import Refund, WebhookInbox
from payments.webhooks.services import webhook_delivery_apply
from payments.withdrawals.services import payout_dispatch
from wallet.models import PayoutAttempt

logger = logging.getLogger(__name__)

Status = WebhookInbox.Status
_APPLICABLE = (Status.RECEIVED, Status.FAILED)
SWEEP_BATCH = 500


def retry_delay_seconds(attempts: int) -> float:
    """Exponential backoff: base, 2×base, 4×base ... capped at one hour."""
    base = settings.TASK_RETRY_BACKOFF_SECONDS
    return float(min(base * 2 ** max(attempts - 1, 0), 3600))


def webhook_apply_attempt(*, inbox_id: int) -> float | None:
    """Apply one verified delivery; the seconds to wait before the next try when it
    failed, else None (applied, nothing left to do, or dead-lettered after
    ``TASK_MAX_ATTEMPTS`` tries). Never applies a delivery without a verified event
    id, nor one already applied, duplicate, rejected or dead."""
    row = (
        WebhookInbox.objects.filter(pk=inbox_id)
        .values("status", "event_id", "provider")
        .first()
    )
    if row is None or not row["event_id"] or row["status"] not in _APPLICABLE:
        return None
    applied = WEBHOOK_APPLICATIONS.labels(provider=row["provider"], outcome="failed")
    try:
        inbox = webhook_delivery_apply(delivery_id=inbox_id)
    except WebhookProcessingFailed:
        applied.inc()
        attempts = WebhookInbox.objects.values_list("attempts", flat=True).get(
            pk=inbox_id
        )
        if attempts >= settings.TASK_MAX_ATTEMPTS:
            WebhookInbox.objects.filter(pk=inbox_id, status=Status.FAILED).update(
                status=Status.DEAD, retry_at=None
            )
            WEBHOOK_APPLICATIONS.labels(provider=row["provider"], outcome="dead").inc()
            logger.error(
                "webhook.dead_lettered",
                extra={"inbox_id": inbox_id, "attempts": attempts},
            )
            return None
        delay = retry_delay_seconds(attempts)
        WebhookInbox.objects.filter(pk=inbox_id).update(
            retry_at=timezone.now() + timedelta(seconds=delay)
        )
        return delay
    WEBHOOK_APPLICATIONS.labels(provider=row["provider"], outcome=inbox.status).inc()
    logger.info("webhook.applied", extra={"inbox_id": inbox_id, "status": inbox.status})
    return None


def payout_dispatch_counted(*, attempt_id: int) -> None:
    """Send a payout attempt (``payments.withdrawals.services.payout_dispatch``) and count the
    outcome it left."""
    payout_dispatch(attempt_id=attempt_id)
    attempt = PayoutAttempt.objects.values("provider", "state").get(pk=attempt_id)
    PAYOUT_DISPATCHES.labels(
        provider=attempt["provider"], outcome=attempt["state"]
    ).inc()


def outbox_sweep(*, stale_seconds: float | None = None) -> dict[str, int]:
    """Re-enqueue what has waited longer than ``stale_seconds`` (default
    ``OUTBOX_STALE_SECONDS``); ``{kind: count}``. At most ``SWEEP_BATCH`` rows of each
    kind per run, oldest first."""
    stale = timedelta(
        seconds=settings.OUTBOX_STALE_SECONDS
        if stale_seconds is None
        else stale_seconds
    )
    cutoff = timezone.now() - stale
    webhooks = list(
        WebhookInbox.objects.filter(status=Status.RECEIVED, received_at__lte=cutoff)
        .exclude(event_id="")
        .order_by("id")
        .values_list("id", flat=True)[:SWEEP_BATCH]
    ) + list(
        WebhookInbox.objects.filter(status=Status.FAILED, retry_at__lte=cutoff)
        .order_by("id")
        .values_list("id", flat=True)[:SWEEP_BATCH]
    )
    attempts = list(
        PayoutAttempt.objects.filter(
            state=PayoutAttempt.State.PENDING, created_at__lte=clock.now() - stale
        )
        .order_by("id")
        .values_list("id", flat=True)[:SWEEP_BATCH]
    )
    refunds = list(
        Refund.objects.filter(
            state=Refund.State.PENDING, provider_reference="", created_at__lte=cutoff
        )
        .order_by("id")
        .values_list("id", flat=True)[:SWEEP_BATCH]
    )
    for inbox_id in webhooks:
        task_enqueue("payments.webhook_apply", inbox_id=inbox_id)
    for attempt_id in attempts:
        task_enqueue("payments.payout_dispatch", attempt_id=attempt_id)
    for refund_id in refunds:
        task_enqueue("payments.refund_dispatch", refund_id=refund_id)
    counts = {
        "webhooks": len(webhooks),
        "payouts": len(attempts),
        "refunds": len(refunds),
    }
    if any(counts.values()):
        logger.warning("outbox.swept", extra=counts)
    return counts
