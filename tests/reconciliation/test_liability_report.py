"""The liability report: player funds per currency at an instant, equal to the
ledger's player entries up to that instant."""

import csv
import io
import time

import pytest
from django.core.management import CommandError, call_command
from django.db.models import Sum
from django.utils import timezone

from common.actors import Actor
from reconciliation.selectors import liability_at
from tests.factories import PlayerFactory, TenantFactory, fund
from wallet import services as wallet
from wallet.models import PLAYER_KINDS, Entry

pytestmark = pytest.mark.django_db

SYSTEM = Actor.system("tests")


def ledger_at(tenant, at) -> dict[str, int]:
    rows = (
        Entry.objects.filter(
            tenant=tenant, account__kind__in=PLAYER_KINDS, created_at__lte=at
        )
        .values("currency")
        .annotate(total=Sum("amount_minor"))
    )
    return {row["currency"]: row["total"] for row in rows}


def instant():
    """A cut-off strictly between two postings."""
    time.sleep(0.01)
    moment = timezone.now()
    time.sleep(0.01)
    return moment


def history(tenant):
    alice, bob = PlayerFactory(tenant=tenant), PlayerFactory(tenant=tenant)
    fund(alice, 10_000)
    fund(bob, 2_500)
    fund(bob, 400, currency="GBP")
    wallet.hold_place(
        player=alice,
        currency="EUR",
        amount_minor=3_000,
        idempotency_key="h1",
        actor=SYSTEM,
    )
    cut = instant()
    fund(alice, 7_000)
    wallet.hold_place(
        player=bob,
        currency="EUR",
        amount_minor=500,
        idempotency_key="h2",
        actor=SYSTEM,
    )
    return cut


def test_the_report_equals_the_ledger_at_the_cut_off():
    tenant = TenantFactory()
    cut = history(tenant)

    rows = {row.currency: row for row in liability_at(tenant_id=tenant.pk, at=cut)}

    assert {c: r.total_minor for c, r in rows.items()} == ledger_at(tenant, cut)
    assert rows["EUR"].available_minor == 9_500
    assert rows["EUR"].held_minor == 3_000
    assert rows["EUR"].players == 2
    assert rows["GBP"].total_minor == 400


def test_the_report_now_equals_the_cached_balances():
    tenant = TenantFactory()
    history(tenant)

    rows = {r.currency: r for r in liability_at(tenant_id=tenant.pk, at=timezone.now())}

    assert rows["EUR"].available_minor == 9_500 + 7_000 - 500
    assert rows["EUR"].held_minor == 3_500
    assert {c: r.total_minor for c, r in rows.items()} == ledger_at(
        tenant, timezone.now()
    )


def test_before_any_posting_there_is_nothing():
    tenant = TenantFactory()
    before = instant()
    history(tenant)

    assert liability_at(tenant_id=tenant.pk, at=before) == []


def test_another_brands_players_are_not_counted():
    tenant, other = TenantFactory(), TenantFactory()
    fund(PlayerFactory(tenant=other), 99_000)
    cut = history(tenant)

    rows = {r.currency: r for r in liability_at(tenant_id=tenant.pk, at=cut)}

    assert rows["EUR"].total_minor == 12_500


def test_the_command_writes_csv_in_major_and_minor_units():
    tenant = TenantFactory(slug="liab")
    cut = history(tenant)
    out = io.StringIO()

    call_command(
        "liability_report", "--tenant", "liab", "--at", cut.isoformat(), stdout=out
    )

    rows = list(csv.DictReader(io.StringIO(out.getvalue())))
    eur = next(row for row in rows if row["currency"] == "EUR")
    assert eur["total"] == "125.00"
    assert eur["total_minor"] == "12500"
    assert eur["held_for_withdrawals"] == "30.00"


def test_the_command_refuses_a_time_without_offset():
    TenantFactory(slug="liab2")

    with pytest.raises(CommandError, match="UTC offset"):
        call_command(
            "liability_report",
            "--tenant",
            "liab2",
            "--at",
            "2026-01-01T00:00:00",
            stdout=io.StringIO(),
        )
