"""Reconciliation of the payments against the ledger, for cron and for the books.

    python manage.py reconcile [--tenant SLUG]

Prints every violation of the ledger's own invariants (what ``check_ledger`` checks)
and of the invariants between deposits, withdrawals and the ledger
(``wallet.selectors.payments_invariants_check``), then the derived balance of every
system account per tenant, kind, provider and currency (PSP clearing, withdrawals in
flight, chargeback receivable, ...) for the bank and PSP statement reconciliation.
Exits 1 when there is any violation. It only reads.
"""

from django.core.management.base import BaseCommand, CommandError

from common.currency import format_money
from tenants.models import Tenant
from wallet.selectors import (
    ledger_invariants_check,
    payments_invariants_check,
    system_balance_list,
)


class Command(BaseCommand):
    help = (
        "Check the ledger and the payments against it (completed deposits credited "
        "once and in full, refunds and chargebacks booked, held funds equal to "
        "pending withdrawals, no payout without a posted hold) and print the system "
        "accounts' balances. Exits 1 on any violation."
    )

    def add_arguments(self, parser):
        parser.add_argument("--tenant", metavar="SLUG", help="One tenant only.")

    def handle(self, *args, tenant=None, **options):
        scope, tenant_id = "all tenants", None
        if tenant:
            found = Tenant.objects.filter(slug=tenant).values_list("pk", flat=True)
            if not found:
                raise CommandError(f"No tenant with slug {tenant!r}.")
            tenant_id, scope = found[0], f"tenant {tenant}"
        problems = ledger_invariants_check(
            tenant_id=tenant_id
        ) + payments_invariants_check(tenant_id=tenant_id)

        self.stdout.write(f"System account balances ({scope}):")
        balances = system_balance_list(tenant_id=tenant_id)
        for row in balances:
            self.stdout.write(
                f"BALANCE {row.tenant_slug} {row.kind} {row.provider or '-'} "
                f"{format_money(row.balance_minor, row.currency)}"
            )
        if not balances:
            self.stdout.write("(no system accounts)")

        if not problems:
            self.stdout.write(self.style.SUCCESS(f"Reconciliation clean ({scope})."))
            return
        for problem in problems:
            self.stdout.write(f"VIOLATION {problem}")
        raise CommandError(f"{len(problems)} reconciliation violation(s) in {scope}.")
