"""Seal every audit event still waiting to join its hash chain.

    python manage.py audit_seal [--tenant SLUG | --tenant platform]

Events are sealed right after their transaction commits; this sweep seals whatever
that missed (a crash between commit and seal, a failed seal). Run it every minute
from cron or Celery beat (``audit.sealing.audit_seal_pending`` is the plain function
behind it). Safe to run at any time and concurrently: sealers of one chain take
turns on the chain's lock.
"""

from __future__ import annotations

from django.core.management.base import BaseCommand
from tqdm import tqdm

from audit.sealing import audit_seal_pending
from tenants.management.commands._audit import audit_chains


class Command(BaseCommand):
    help = "Seal the committed audit events not yet linked into their hash chain."

    def add_arguments(self, parser):
        parser.add_argument(
            "--tenant",
            metavar="SLUG",
            help="Only this tenant's chain ('platform': events without a tenant). "
            "Default: every chain with pending events.",
        )
        parser.add_argument(
            "--no-progress", action="store_true", help="No progress bar."
        )

    def handle(self, *args, **options):
        only = {}
        if options["tenant"]:
            [(_label, tenant)] = audit_chains(options["tenant"])
            only = {"tenant_id": tenant.pk if tenant is not None else None}
        with tqdm(
            desc="sealing",
            unit="event",
            disable=options["no_progress"],
            file=self.stderr,
        ) as bar:
            sealed = audit_seal_pending(progress=bar.update, **only)
        total = sum(sealed.values())
        chains = sum(1 for count in sealed.values() if count)
        self.stdout.write(f"sealed {total} events in {chains} chains")
