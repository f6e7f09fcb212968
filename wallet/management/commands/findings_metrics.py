"""Open reconciliation findings by tenant and severity, in the Prometheus text
format, for a node-exporter textfile collector or any scraper:

    python manage.py findings_metrics > /var/lib/node_exporter/findings.prom
"""

from django.core.management.base import BaseCommand

from wallet.metrics import findings_open_counts


class Command(BaseCommand):
    help = "Print open findings per tenant and severity as Prometheus metrics."

    def handle(self, *args, **options):
        rows = findings_open_counts()
        self.stdout.write(
            "# HELP reconciliation_findings_open Open reconciliation findings.\n"
            "# TYPE reconciliation_findings_open gauge"
        )
        for row in rows:
            self.stdout.write(
                f'reconciliation_findings_open{{severity="{row["severity"]}",'
                f'tenant="{row["tenant__slug"]}"}} {row["n"]}'
            )
