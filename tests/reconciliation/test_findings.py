"""Findings: one row per discrepancy however often it is found, closed only with a
reason (audited), scoped to the operator's brand in the admin."""

from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.urls import reverse

from audit.models import AuditEvent
from common.actors import Actor
from common.errors import IllegalStateTransition
from tests.factories import OperatorFactory, TenantFactory
from wallet.exceptions import FindingReasonRequired
from wallet.models import Finding
from wallet.selectors import finding_open_counts
from wallet.services import (
    FindingSpec,
    finding_dismiss,
    finding_record,
    finding_resolve,
)

pytestmark = pytest.mark.django_db

SYSTEM = Actor.system("tests")


def spec(tenant, *, code="amount_mismatch", ref="dep-1", severity="critical"):
    return FindingSpec(
        tenant_id=tenant.pk,
        code=code,
        severity=severity,
        object_type="deposit",
        object_ref=ref,
        details={"ours": 100, "psp": 90},
    )


def test_a_finding_seen_again_is_the_same_finding():
    tenant = TenantFactory()
    first, created = finding_record(spec=spec(tenant), source="reconcile_psp")

    again, created_again = finding_record(spec=spec(tenant), source="reconcile_psp")

    assert created and not created_again
    assert again.pk == first.pk
    assert again.times_seen == 2
    assert again.last_seen_at >= first.first_seen_at
    assert Finding.objects.count() == 1


def test_resolving_needs_a_reason_and_is_audited():
    tenant = TenantFactory()
    finding, _ = finding_record(spec=spec(tenant), source="reconcile_psp")
    operator = OperatorFactory(tenants=[tenant])

    with pytest.raises(FindingReasonRequired):
        finding_resolve(finding=finding, actor=Actor.for_user(operator), reason=" ")
    finding_resolve(
        finding=finding, actor=Actor.for_user(operator), reason="PSP corrected it"
    )

    finding.refresh_from_db()
    assert finding.status == Finding.Status.RESOLVED
    assert finding.resolved_by == operator
    event = AuditEvent.objects.get(action="finding.resolved")
    assert event.reason == "PSP corrected it"
    assert event.target_id == str(finding.pk)


def test_a_resolved_finding_that_reappears_opens_again():
    tenant = TenantFactory()
    finding, _ = finding_record(spec=spec(tenant), source="reconcile_psp")
    finding_resolve(finding=finding, actor=SYSTEM, reason="fixed")

    again, created = finding_record(spec=spec(tenant), source="reconcile_psp")

    assert not created
    assert again.status == Finding.Status.OPEN
    assert AuditEvent.objects.filter(action="finding.reopened").count() == 1


def test_a_dismissed_finding_stays_dismissed_when_seen_again():
    tenant = TenantFactory()
    finding, _ = finding_record(spec=spec(tenant), source="reconcile_psp")
    finding_dismiss(finding=finding, actor=SYSTEM, reason="test payment")

    again, _ = finding_record(spec=spec(tenant), source="reconcile_psp")

    assert again.status == Finding.Status.DISMISSED
    assert again.times_seen == 2


def test_a_closed_finding_cannot_be_closed_again():
    tenant = TenantFactory()
    finding, _ = finding_record(spec=spec(tenant), source="reconcile_psp")
    finding_dismiss(finding=finding, actor=SYSTEM, reason="known")

    with pytest.raises(IllegalStateTransition):
        finding_resolve(finding=finding, actor=SYSTEM, reason="again")


def test_open_counts_are_per_severity_and_tenant():
    tenant, other = TenantFactory(), TenantFactory()
    finding_record(spec=spec(tenant), source="reconcile_psp")
    finding_record(
        spec=spec(tenant, code="fee_mismatch", severity="warning"),
        source="reconcile_psp",
    )
    finding_record(spec=spec(other), source="reconcile_psp")

    assert finding_open_counts(tenant_id=tenant.pk) == {
        "info": 0,
        "warning": 1,
        "critical": 1,
    }


def test_reconcile_exits_non_zero_while_a_critical_finding_is_open():
    tenant = TenantFactory(slug="crit")
    finding_record(spec=spec(tenant), source="reconcile_psp")

    with pytest.raises(CommandError, match="Critical reconciliation findings"):
        call_command("reconcile", "--tenant", "crit", stdout=StringIO())


def test_the_findings_metrics_command_prints_open_counts_by_severity():
    tenant = TenantFactory(slug="met")
    finding_record(spec=spec(tenant), source="reconcile_psp")
    out = StringIO()

    call_command("findings_metrics", stdout=out)

    assert 'reconciliation_findings_open{severity="critical",tenant="met"} 1' in (
        out.getvalue()
    )


def test_operator_resolves_a_finding_in_the_admin_with_a_reason(client):
    tenant = TenantFactory()
    finding, _ = finding_record(spec=spec(tenant), source="reconcile_psp")
    operator = OperatorFactory(tenants=[tenant])
    client.force_login(operator)
    url = reverse("admin:wallet_finding_changelist")

    asked = client.post(
        url, {"action": "resolve_findings", "_selected_action": [finding.pk]}
    )
    done = client.post(
        url,
        {
            "action": "resolve_findings",
            "_selected_action": [finding.pk],
            "post": "yes",
            "reason": "booked the missing fee",
        },
    )

    assert asked.status_code == 200 and b"reason" in asked.content
    assert done.status_code == 302
    finding.refresh_from_db()
    assert finding.status == Finding.Status.RESOLVED
    assert finding.resolution_reason == "booked the missing fee"


def test_an_operator_cannot_resolve_another_brands_finding(client):
    tenant, other = TenantFactory(), TenantFactory()
    foreign, _ = finding_record(spec=spec(other), source="reconcile_psp")
    client.force_login(OperatorFactory(tenants=[tenant]))

    client.post(
        reverse("admin:wallet_finding_changelist"),
        {
            "action": "resolve_findings",
            "_selected_action": [foreign.pk],
            "post": "yes",
            "reason": "not mine",
        },
    )

    foreign.refresh_from_db()
    assert foreign.status == Finding.Status.OPEN
