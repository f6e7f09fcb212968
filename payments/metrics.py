"""Business metrics of payments (Prometheus names start ``casino_``).

Counters are incremented where things happen (webhook door, outbox jobs); gauges are
read from the database at scrape time by ``PaymentsCollector`` with bounded queries
(the partial index ``webhook_status_received`` covers the rows still to apply).
"""

from __future__ import annotations

from celery import current_app
from django.db.models import Count, Min
from django.utils import timezone
from prometheus_client import Counter
from prometheus_client.core import GaugeMetricFamily

from common import clock
from payments.models import WebhookInbox
from wallet.models import PayoutAttempt

WEBHOOK_DELIVERIES = Counter(
    "casino_webhook_deliveries_total",
    "Webhook deliveries answered by the endpoint, per PSP and outcome "
    "(accepted, duplicate, rejected, too_large, rate_limited).",
    ["provider", "outcome"],
)
WEBHOOK_APPLICATIONS = Counter(
    "casino_webhook_applications_total",
    "Verified webhook deliveries applied by a worker, per PSP and outcome "
    "(processed, ignored, failed, dead).",
    ["provider", "outcome"],
)
PAYOUT_DISPATCHES = Counter(
    "casino_payout_dispatches_total",
    "Payout attempts sent by a worker, per PSP and the attempt's state after "
    "(sent, paid, failed, unknown).",
    ["provider", "outcome"],
)

Status = WebhookInbox.Status


class PaymentsCollector:
    """Backlogs and ages, read when Prometheus scrapes."""

    def collect(self):
        unapplied = GaugeMetricFamily(
            "casino_webhook_unapplied",
            "Verified webhook deliveries still to apply (received or failed), per PSP.",
            labels=["provider"],
        )
        dead = GaugeMetricFamily(
            "casino_webhook_dead_letters",
            "Webhook deliveries dead-lettered (retries exhausted), per PSP.",
            labels=["provider"],
        )
        rows = (
            WebhookInbox.objects.filter(
                status__in=[Status.RECEIVED, Status.FAILED, Status.DEAD]
            )
            .exclude(event_id="")
            .values("provider", "status")
            .annotate(count=Count("id"), oldest=Min("received_at"))
        )
        waiting: dict[str, int] = {}
        oldest = None
        for row in rows:
            if row["status"] == Status.DEAD:
                dead.add_metric([row["provider"]], row["count"])
                continue
            waiting[row["provider"]] = waiting.get(row["provider"], 0) + row["count"]
            oldest = min(oldest or row["oldest"], row["oldest"])
        for provider, count in waiting.items():
            unapplied.add_metric([provider], count)
        yield unapplied
        yield dead
        yield GaugeMetricFamily(
            "casino_webhook_oldest_unapplied_age_seconds",
            "Age of the oldest verified webhook delivery still to apply.",
            value=(timezone.now() - oldest).total_seconds() if oldest else 0,
        )
        first_open = (
            PayoutAttempt.objects.filter(state__in=PayoutAttempt.OPEN_STATES)
            .order_by("created_at")
            .values_list("created_at", flat=True)
            .first()
        )
        yield GaugeMetricFamily(
            "casino_payout_oldest_pending_age_seconds",
            "Age of the oldest payout attempt without an outcome (pending, sent, "
            "unknown).",
            value=(clock.now() - first_open).total_seconds() if first_open else 0,
        )
        depth = GaugeMetricFamily(
            "casino_task_queue_depth",
            "Task messages waiting in the broker's queue (Redis).",
            labels=["queue"],
        )
        depth.add_metric(["celery"], _queue_depth("celery"))
        yield depth


def _queue_depth(queue: str) -> int:
    if current_app.conf.task_always_eager:
        return 0
    try:
        with current_app.connection_for_read() as connection:
            return connection.default_channel.client.llen(queue)
    except Exception:  # not Redis, or unreachable: the broker health check says so
        return -1
