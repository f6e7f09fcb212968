"""Open reconciliation findings for ``/metrics`` (read when Prometheus scrapes), the
figure to alert on: ``reconciliation_findings_open{severity="critical"} > 0``."""

from __future__ import annotations

from django.db.models import Count
from prometheus_client.core import GaugeMetricFamily

from wallet.models import Finding


def findings_open_counts() -> list[dict]:
    """Open findings per tenant slug and severity (one grouped query)."""
    return list(
        Finding.objects.filter(status=Finding.Status.OPEN)
        .values("tenant__slug", "severity")
        .annotate(n=Count("id"))
        .order_by("tenant__slug", "severity")
    )


class FindingsCollector:
    def collect(self):
        gauge = GaugeMetricFamily(
            "reconciliation_findings_open",
            "Open reconciliation findings.",
            labels=["tenant", "severity"],
        )
        for row in findings_open_counts():
            gauge.add_metric([row["tenant__slug"] or "", row["severity"]], row["n"])
        yield gauge
