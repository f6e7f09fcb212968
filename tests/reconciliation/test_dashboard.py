"""The finance dashboard: figures per brand and currency, SVG charts, CSV export,
and an operator sees only their brands."""

import pytest
from django.urls import reverse

from common.actors import Actor
from tests.factories import OperatorFactory, PlayerFactory
from tests.payments.factories import PSPConfigFactory
from tests.reconciliation.factories import completed_deposit, refund_row
from tests.withdrawals.factories import verified_player, withdrawal_requested
from wallet.services import FindingSpec, finding_record

pytestmark = pytest.mark.django_db

SYSTEM = Actor.system("tests")


@pytest.fixture
def brand():
    tenant = PSPConfigFactory().tenant
    player = PlayerFactory(tenant=tenant)
    deposit = completed_deposit(player, 5_000)
    completed_deposit(player, 2_500)
    refund_row(deposit, 1_000)
    payee = verified_player(tenant=tenant, balance_minor=10_000)
    withdrawal_requested(payee, 700, key="dash:w1")
    finding_record(
        spec=FindingSpec(
            tenant_id=tenant.pk,
            code="amount_mismatch",
            severity="critical",
            object_type="deposit",
            object_ref=str(deposit.pk),
            details={},
        ),
        source="reconcile_psp",
    )
    return tenant


def test_the_dashboard_shows_the_brands_figures_and_charts(client, brand):
    client.force_login(OperatorFactory(tenants=[brand]))

    response = client.get(reverse("admin:reconciliation_dashboard"))

    assert response.status_code == 200
    board = response.context["board"]
    assert board.total("deposits") == 7_500  # Deposit rows; fund() is not one
    assert board.total("refunds") == 1_000
    assert board.pending_holds_minor == 700
    assert board.open_findings["critical"] == 1
    assert dict((label, n) for label, n, _ in board.withdrawal_queue)["< 1 h"] == 1
    html = response.content.decode()
    assert html.count('<svg xmlns="http://www.w3.org/2000/svg" width=') == 5
    assert "75.00 EUR" in html


def test_the_csv_export_has_a_row_per_day(client, brand):
    client.force_login(OperatorFactory(tenants=[brand]))

    response = client.get(
        reverse("admin:reconciliation_dashboard_csv"),
        {"start": "2026-01-01", "end": "2026-01-10"},
    )

    lines = response.content.decode().strip().splitlines()
    assert response["Content-Type"] == "text/csv"
    assert lines[0].startswith("day,currency,deposits")
    assert len(lines) == 11


def test_an_operator_cannot_see_another_brands_dashboard(client, brand):
    other = PSPConfigFactory().tenant
    client.force_login(OperatorFactory(tenants=[other]))

    response = client.get(
        reverse("admin:reconciliation_dashboard"), {"tenant": brand.pk}
    )

    assert response.status_code == 200
    assert response.context["board"] is None
    assert "tenant" in response.context["form"].errors
    csv_response = client.get(
        reverse("admin:reconciliation_dashboard_csv"), {"tenant": brand.pk}
    )
    assert csv_response.status_code == 400


def test_a_reversed_date_range_is_refused(client, brand):
    client.force_login(OperatorFactory(tenants=[brand]))

    response = client.get(
        reverse("admin:reconciliation_dashboard"),
        {"start": "2026-02-01", "end": "2026-01-01"},
    )

    assert response.context["board"] is None
    assert "after the end" in response.content.decode()
