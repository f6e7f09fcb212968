"""Delete webhook deliveries rejected for their signature, past a retention period."""

from datetime import timedelta

from django.core.management.base import BaseCommand, CommandError
from django.db import transaction
from django.utils import timezone

from common.actors import Actor
from payments.management.commands._ops import tenant_id_for
from payments.webhooks.services import webhook_inbox_prune


class Command(BaseCommand):
    help = "Delete rejected (bad signature) webhook deliveries older than N days."

    def add_arguments(self, parser):
        parser.add_argument("--older-than-days", type=int, default=30)
        parser.add_argument("--tenant", help="Only this tenant (slug).")
        parser.add_argument("--dry-run", action="store_true")

    def handle(self, *args, **options):
        days = options["older_than_days"]
        if days < 1:
            raise CommandError("--older-than-days must be at least 1.")
        tenant_id, scope = tenant_id_for(options["tenant"])
        cutoff = timezone.now() - timedelta(days=days)
        with transaction.atomic(durable=True):
            counts = webhook_inbox_prune(
                received_before=cutoff,
                actor=Actor.system("prune_webhook_inbox"),
                tenant_id=tenant_id,
                dry_run=options["dry_run"],
            )
        verb = "would delete" if options["dry_run"] else "deleted"
        self.stdout.write(
            f"{scope}: {verb} {sum(counts.values())} rejected deliveries received "
            f"before {cutoff:%Y-%m-%d %H:%M} UTC."
        )
