"""What the PSP-asking ops commands leave for a person becomes a finding with the
documented code; what they settled by themselves does not."""

import pytest

from payments.findings import OUTCOME_CODES, ops_findings_record
from payments.reconciliation import Finding as OpsFinding
from tests.factories import TenantFactory
from wallet.finding_codes import FINDING_CODES
from wallet.models import Finding

pytestmark = pytest.mark.django_db


def ops(tenant, kind, outcome, object_id=7):
    return OpsFinding(
        kind=kind,
        object_id=object_id,
        tenant_slug=tenant.slug,
        provider="adyen",
        outcome=outcome,
        detail="crafted",
    )


@pytest.mark.parametrize(("kind", "outcome"), sorted(OUTCOME_CODES))
def test_an_outcome_that_needs_a_person_is_recorded_with_its_code(kind, outcome):
    tenant = TenantFactory()

    ops_findings_record(
        findings=[ops(tenant, kind, outcome)], source="reconcile_payouts", dry_run=False
    )

    finding = Finding.objects.get(tenant=tenant)
    assert finding.code == OUTCOME_CODES[(kind, outcome)]
    assert finding.severity == FINDING_CODES[finding.code]
    assert finding.object_type == kind
    assert finding.object_ref == "7"


@pytest.mark.parametrize(
    ("kind", "outcome"),
    [
        ("deposit", "expired"),
        ("deposit", "failed"),
        ("deposit", "still_open"),
        ("payout", "paid"),
        ("payout", "dispatched"),
        ("payout", "settled_meanwhile"),
    ],
)
def test_an_outcome_settled_by_the_run_is_not_a_finding(kind, outcome):
    tenant = TenantFactory()

    ops_findings_record(
        findings=[ops(tenant, kind, outcome)], source="reconcile_payouts", dry_run=False
    )

    assert not Finding.objects.exists()


def test_a_dry_run_records_nothing():
    tenant = TenantFactory()

    recorded = ops_findings_record(
        findings=[ops(tenant, "deposit", "paid_not_credited")],
        source="expire_stale_deposits",
        dry_run=True,
    )

    assert recorded == 0
    assert not Finding.objects.exists()
