"""Shared by the ops commands: tenant option and the report's printing."""

from __future__ import annotations

from django.core.management.base import CommandError

from tenants.models import Tenant


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
