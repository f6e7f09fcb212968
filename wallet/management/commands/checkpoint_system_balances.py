"""Checkpoint the balances of system accounts, so reading one costs the entries
since the last checkpoint, not all of them.

    python manage.py checkpoint_system_balances [--tenant SLUG] [--margin-minutes N]

Run it periodically (every few minutes; cron or Celery beat). It locks nothing and
skips a run while a database transaction older than the margin is open.
"""

from datetime import timedelta

from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from tenants.models import Tenant
from wallet.services import account_checkpoints_take
from wallet.services.checkpoints import DEFAULT_MARGIN


class Command(BaseCommand):
    help = "Checkpoint system account balances (latest checkpoint + entries since)."

    def add_arguments(self, parser):
        parser.add_argument("--tenant", metavar="SLUG", help="One tenant only.")
        parser.add_argument(
            "--margin-minutes",
            type=int,
            default=int(DEFAULT_MARGIN.total_seconds() // 60),
            help="Only entries older than this are checkpointed (default: 15).",
        )

    def handle(self, *args, tenant=None, margin_minutes, **options):
        tenant_id = None
        if tenant:
            tenant_id = (
                Tenant.objects.filter(slug=tenant).values_list("pk", flat=True).first()
            )
            if tenant_id is None:
                raise CommandError(f"No tenant with slug {tenant!r}.")
        if margin_minutes < 0:
            raise CommandError("--margin-minutes must be 0 or more.")
        with transaction.atomic(durable=True):
            run = account_checkpoints_take(
                tenant_id=tenant_id, margin=timedelta(minutes=margin_minutes)
            )
        if run.skipped_reason:
            self.stdout.write(f"Skipped: {run.skipped_reason}.")
            return
        self.stdout.write(
            f"{run.written} checkpoint(s) written up to entry {run.horizon_entry_id}."
        )
