"""The PSP-asking ops commands (``expire_stale_deposits``, ``reconcile_payouts``)
turn what needs a person into reconciliation findings (``wallet.models.Finding``).

An outcome the run settled by itself (expired, failed, paid, dispatched) is not a
finding; one that waits for an operator or for the PSP is. The same payment found
again by the next run is the same finding (``wallet.services.finding_record``)."""

from __future__ import annotations

from collections.abc import Iterable

from django.db import transaction

from payments.reconciliation import Finding as OpsFinding
from tenants.models import Tenant
from wallet.finding_codes import severity_of
from wallet.services import FindingSpec, findings_record

#: (kind, outcome) of an ops run → finding code.
OUTCOME_CODES: dict[tuple[str, str], str] = {
    ("deposit", "paid_not_credited"): "deposit_paid_not_credited",
    ("deposit", "paid_already_flagged"): "deposit_paid_not_credited",
    ("deposit", "unreachable"): "deposit_psp_unreachable",
    ("deposit", "error"): "deposit_psp_query_failed",
    ("deposit", "unknown_status"): "deposit_psp_status_unknown",
    ("payout", "unknown_no_reference"): "payout_unknown_no_reference",
    ("payout", "awaiting_operator"): "payout_awaiting_operator",
    ("payout", "unreachable"): "payout_psp_unreachable",
    ("payout", "error"): "payout_psp_query_failed",
}


def ops_findings_record(
    *, findings: Iterable[OpsFinding], source: str, dry_run: bool
) -> int:
    """Record the run's findings that need a person; returns how many. A dry run
    records nothing. Opens its own transaction."""
    if dry_run:
        return 0
    specs = []
    tenant_ids: dict[str, int] = {}
    for finding in findings:
        code = OUTCOME_CODES.get((finding.kind, finding.outcome))
        if code is None:
            continue
        if finding.tenant_slug not in tenant_ids:
            tenant_ids[finding.tenant_slug] = Tenant.objects.values_list(
                "pk", flat=True
            ).get(slug=finding.tenant_slug)
        specs.append(
            FindingSpec(
                tenant_id=tenant_ids[finding.tenant_slug],
                code=code,
                severity=severity_of(code),
                object_type=finding.kind,
                object_ref=str(finding.object_id),
                details={"provider": finding.provider, "detail": finding.detail},
            )
        )
    with transaction.atomic(durable=True):
        findings_record(specs=specs, source=source)
    return len(specs)
