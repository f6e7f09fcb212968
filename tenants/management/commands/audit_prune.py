"""Retention of the audit trail.

    python manage.py audit_prune [--tenant SLUG | --tenant platform] [--dry-run]

Deletes events older than ``AUDIT_RETENTION_DAYS`` (off when unset: the command
then deletes nothing) from each chain, leaving a checkpoint so the rest still
verifies (``audit/retention.py``); each prune is itself an audit event.
"""

from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.core.management.base import BaseCommand
from django.db import transaction
from django.utils import timezone
from tqdm import tqdm

from audit.retention import audit_prune
from audit.verification import audit_chain_length
from common.actors import Actor
from tenants.management.commands._audit import PLATFORM, audit_chains


class Command(BaseCommand):
    help = "Delete audit events past AUDIT_RETENTION_DAYS, keeping chains verifiable."

    def add_arguments(self, parser):
        parser.add_argument("--tenant", metavar="SLUG", help=f"Or '{PLATFORM}'.")
        parser.add_argument("--dry-run", action="store_true")
        parser.add_argument("--no-progress", action="store_true")

    def handle(self, *args, **options):
        days = settings.AUDIT_RETENTION_DAYS
        if not days:
            self.stdout.write(
                "Audit retention is off (AUDIT_RETENTION_DAYS unset): nothing pruned."
            )
            return
        cutoff = timezone.now() - timedelta(days=days)
        verb = "would prune" if options["dry_run"] else "pruned"
        for label, tenant in audit_chains(options["tenant"]):
            tenant_id = tenant.pk if tenant is not None else None
            with (
                tqdm(
                    total=audit_chain_length(tenant_id=tenant_id),
                    desc=label,
                    unit="event",
                    disable=options["no_progress"],
                    file=self.stderr,
                ) as bar,
                transaction.atomic(durable=True),
            ):
                result = audit_prune(
                    tenant_id=tenant_id,
                    older_than=cutoff,
                    actor=Actor.system("audit_prune"),
                    dry_run=options["dry_run"],
                    progress=bar.update,
                )
            self.stdout.write(
                f"{label}: {verb} {result.events_pruned} events created before "
                f"{cutoff:%Y-%m-%d %H:%M} UTC; chain resumes after seq "
                f"{result.through_seq}."
            )
