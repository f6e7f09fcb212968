"""Health check of payments: no verified webhook waits long to be applied."""

from __future__ import annotations

import dataclasses

from django.conf import settings
from django.db import connection
from django.utils import timezone
from health_check.base import HealthCheck
from health_check.exceptions import ServiceUnavailable

from payments.selectors import webhook_oldest_unapplied_received_at


@dataclasses.dataclass
class WebhookBacklog(HealthCheck):
    """Fails when the oldest verified, unapplied delivery (received or failed) has
    waited longer than HEALTH_WEBHOOK_BACKLOG_SECONDS: workers are down, stuck or
    too few."""

    def run(self) -> None:
        try:
            oldest = webhook_oldest_unapplied_received_at()
        finally:
            connection.close()  # a health-check thread, not a request thread
        if oldest is None:
            return
        age = (timezone.now() - oldest).total_seconds()
        if age > settings.HEALTH_WEBHOOK_BACKLOG_SECONDS:
            raise ServiceUnavailable(f"oldest unapplied webhook waited {int(age)} s")
