"""The dashboard and the liability report read from a real streaming replica when
one is configured (CI starts one with pg_basebackup; see .ci/run)."""

import time

import pytest
from django.db import connections
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from reconciliation.selectors import finance_dashboard, liability_at
from tests.factories import PlayerFactory
from tests.payments.factories import PSPConfigFactory
from tests.reconciliation.factories import completed_deposit
from wallet.models import Deposit

pytestmark = [
    pytest.mark.replica,
    pytest.mark.django_db(transaction=True, databases=["default", "replica"]),
]


def replayed(deposit_id: int, timeout: float = 15.0) -> None:
    """Wait until the replica has replayed the commit that wrote ``deposit_id``."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if Deposit.objects.using("replica").filter(pk=deposit_id).exists():
            return
        time.sleep(0.1)
    raise AssertionError("the replica did not replay the commit in time")


def test_the_replica_is_a_standby():
    with connections["replica"].cursor() as cursor:
        cursor.execute("SELECT pg_is_in_recovery()")
        assert cursor.fetchone()[0] is True


def test_the_liability_report_reads_from_the_replica():
    tenant = PSPConfigFactory().tenant
    deposit = completed_deposit(PlayerFactory(tenant=tenant), 4_200)
    replayed(deposit.pk)

    with CaptureQueriesContext(connections["replica"]) as replica_queries:
        rows = liability_at(tenant_id=tenant.pk, at=timezone.now())

    assert [(r.currency, r.total_minor) for r in rows] == [("EUR", 4_200)]
    assert any("wallet_entry" in q["sql"] for q in replica_queries.captured_queries)


def test_the_dashboard_reads_from_the_replica():
    tenant = PSPConfigFactory().tenant
    deposit = completed_deposit(PlayerFactory(tenant=tenant), 3_100)
    replayed(deposit.pk)
    today = timezone.now().date()

    with CaptureQueriesContext(connections["replica"]) as replica_queries:
        board = finance_dashboard(
            tenant_id=tenant.pk, currency="EUR", start=today, end=today
        )

    assert board.total("deposits") == 3_100
    assert any("wallet_deposit" in q["sql"] for q in replica_queries.captured_queries)
