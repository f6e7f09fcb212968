"""Reconciliation of the payments against the ledger, for cron and for the books.

    python manage.py reconcile [--tenant SLUG]

Prints every violation of the ledger's own invariants (what ``check_ledger`` checks)
and of the invariants between deposits, withdrawals and the ledger
(``wallet.selectors.payments_invariants_check``), then the derived balance of every
system account per tenant, kind, provider and currency (PSP clearing, withdrawals in
flight, chargeback receivable, ...) for the bank and PSP statement reconciliation.
Each violation is also recorded as a finding (``wallet.models.Finding``; the same
violation found again is the same finding). Exits 1 when there is any violation or
any critical finding is open. It changes nothing but the findings.
"""

from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from common.currency import format_money
from tenants.models import Tenant
from wallet.finding_codes import severity_of
from wallet.selectors import (
    finding_critical_open_exists,
    ledger_invariants_check,
    payments_invariants_check,
    system_balance_list,
)
from wallet.services import FindingSpec, findings_record


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
        tenant_ids = (
            [tenant_id]
            if tenant_id is not None
            else list(Tenant.objects.order_by("pk").values_list("pk", flat=True))
        )
        problems: list[str] = []
        specs: list[FindingSpec] = []
        for one in tenant_ids:
            for code, found in (
                ("ledger_invariant_violation", ledger_invariants_check(tenant_id=one)),
                (
                    "payments_invariant_violation",
                    payments_invariants_check(tenant_id=one),
                ),
            ):
                problems += found
                specs += [
                    FindingSpec(
                        tenant_id=one,
                        code=code,
                        severity=severity_of(code),
                        object_type="ledger",
                        object_ref=problem[:200],
                        details={"problem": problem},
                    )
                    for problem in found
                ]
        with transaction.atomic(durable=True):
            findings_record(specs=specs, source="reconcile")

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
            if finding_critical_open_exists(tenant_id=tenant_id):
                raise CommandError(
                    "Critical reconciliation findings are open (from earlier runs or "
                    "settlement imports): see Findings in the admin."
                )
            return
        for problem in problems:
            self.stdout.write(f"VIOLATION {problem}")
        raise CommandError(f"{len(problems)} reconciliation violation(s) in {scope}.")
