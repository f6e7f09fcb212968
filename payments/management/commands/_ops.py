"""Shared by the ops commands: tenant option and the report's printing."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

from django.core.management.base import BaseCommand, CommandError

from payments.findings import ops_findings_record
from tenants.models import Tenant
from wallet.selectors import finding_critical_open_exists


def tenant_id_for(slug: str | None) -> tuple[int | None, str]:
    """``(tenant id or None, "tenant X" / "all tenants")``; unknown slug → error."""
    if not slug:
        return None, "all tenants"
    found = Tenant.objects.filter(slug=slug).values_list("pk", flat=True)
    if not found:
        raise CommandError(f"No tenant with slug {slug!r}.")
    return found[0], f"tenant {slug}"


def report_write(command, report, *, title: str, scope: str, order: list[str]) -> None:
    """One line per finding, then the summary with a count per outcome."""
    prefix = "DRY RUN " if report.dry_run else ""
    for finding in report.findings:
        command.stdout.write(
            f"{prefix}{finding.outcome.upper()} {finding.kind} {finding.object_id} "
            f"({finding.tenant_slug}, {finding.provider}): {finding.detail}"
        )
    counts = report.counts
    shown = [name for name in order if counts.get(name)] + sorted(
        name for name in counts if name not in order
    )
    summary = ", ".join(f"{name} {counts[name]}" for name in shown) or "nothing to do"
    command.stdout.write(
        f"{prefix}{title} ({scope}): {len(report.findings)} examined; {summary}."
    )


def findings_exit(command, *, recorded: int, tenant_id: int | None) -> None:
    """Say how many findings the run recorded; exit 1 while a critical finding is
    open in the scope (from this run or an earlier one), so cron can alert."""
    command.stdout.write(f"Findings recorded: {recorded}.")
    if finding_critical_open_exists(tenant_id=tenant_id):
        raise CommandError(
            "Critical reconciliation findings are open: see Findings in the admin."
        )


class PspQueryCommand(BaseCommand):
    """The shape both PSP-asking commands share: ``--older-than-minutes``,
    ``--tenant``, ``--dry-run``, one call of ``run`` and the report."""

    #: ``run(older_than=..., tenant_id=..., dry_run=...)`` returning a report.
    run: Callable[..., Any]
    default_age: timedelta
    age_help: str
    title: str
    order: list[str]
    source: str  # the command's name, recorded on its findings

    def add_arguments(self, parser):
        parser.add_argument(
            "--older-than-minutes",
            type=int,
            default=int(self.default_age.total_seconds() // 60),
            metavar="N",
            help=self.age_help,
        )
        parser.add_argument("--tenant", metavar="SLUG", help="One tenant only.")
        parser.add_argument(
            "--dry-run",
            action="store_true",
            help="Ask the PSPs and report, change nothing.",
        )

    def handle(self, *args, older_than_minutes, tenant=None, dry_run=False, **opts):
        if older_than_minutes < 0:
            raise CommandError("--older-than-minutes must be 0 or more.")
        tenant_id, scope = tenant_id_for(tenant)
        report = self.run(
            older_than=timedelta(minutes=older_than_minutes),
            tenant_id=tenant_id,
            dry_run=dry_run,
        )
        report_write(self, report, title=self.title, scope=scope, order=self.order)
        findings_exit(
            self,
            recorded=ops_findings_record(
                findings=report.findings, source=self.source, dry_run=dry_run
            ),
            tenant_id=tenant_id,
        )
