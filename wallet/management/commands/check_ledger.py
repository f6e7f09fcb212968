"""Reconciliation: print every ledger invariant violation; exit non-zero on any.

    python manage.py check_ledger [--tenant SLUG]

Run it from cron or after an incident; it only reads.
"""

from django.core.management.base import BaseCommand, CommandError

from tenants.models import Tenant
from wallet.selectors import ledger_invariants_check


class Command(BaseCommand):
    help = (
        "Check the ledger's invariants (balanced transactions, cached balances equal "
        "to their entries, no negative player balance, holds equal held balances). "
        "Exits 1 when any is violated."
    )

    def add_arguments(self, parser):
        parser.add_argument("--tenant", metavar="SLUG", help="Check one tenant only.")

    def handle(self, *args, tenant=None, **options):
        scope = "all tenants"
        tenant_id = None
        if tenant:
            found = Tenant.objects.filter(slug=tenant).values_list("pk", flat=True)
            if not found:
                raise CommandError(f"No tenant with slug {tenant!r}.")
            tenant_id, scope = found[0], f"tenant {tenant}"
        problems = ledger_invariants_check(tenant_id=tenant_id)
        if not problems:
            self.stdout.write(self.style.SUCCESS(f"Ledger clean ({scope})."))
            return
        for problem in problems:
            self.stdout.write(f"VIOLATION {problem}")
        raise CommandError(f"{len(problems)} ledger invariant violation(s) in {scope}.")
