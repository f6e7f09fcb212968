"""``manage.py bench_ledger`` runs end to end and prints its figures. A smoke test
only: nothing here asserts a speed (the machine is shared; see docs/ledger.md)."""

import re
import shutil
from io import StringIO

import pytest
from django.conf import settings
from django.core.management import CommandError, call_command

from tenants.models import Tenant
from wallet.selectors import ledger_invariants_check

ON_POSTGRES = "postgresql" in settings.DATABASES["default"]["ENGINE"]


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_bench_prints_every_figure_and_a_clean_invariant_check():
    out = StringIO()
    call_command(
        "bench_ledger",
        "--seconds",
        "0.3",
        "--rounds",
        "1",
        "--pgbench-scale",
        "1",
        "--tenant",
        "bench-smoke",
        stdout=out,
    )
    text = out.getvalue()
    figures = r"[\d,]+|n/a"
    assert re.search(
        rf"pgbench TPC-B-like, scale 1, built-in default \(TPS\)\s+({figures})\s+"
        rf"({figures})",
        text,
    )
    assert "scale 8" not in text  # only the scales asked for
    assert re.search(r"ledger transfers \(/s\)\s+[\d,]+\s+[\d,]+", text)
    assert re.search(r"ratio to pgbench scale 1\s+(\S+x|n/a)\s+(\S+x|n/a)", text)
    assert re.search(r"ledger deposits \(/s\)\s+[\d,]+\s+[\d,]+", text)
    assert re.search(r"deposits 8 workers vs 1: \d+\.\d\dx", text)
    assert "failed service operations: 0" in text
    assert "Invariant check after the run (tenant bench-smoke): clean." in text
    if shutil.which("pgbench"):
        assert "Dropped scratch database" in text
    else:
        assert "pgbench is not installed" in text
    tenant = Tenant.objects.get(slug="bench-smoke")
    assert ledger_invariants_check(tenant_id=tenant.pk) == []


@pytest.mark.skipif(ON_POSTGRES, reason="checks the refusal on other databases")
@pytest.mark.django_db
def test_bench_refuses_to_run_without_postgresql():
    with pytest.raises(CommandError, match="needs PostgreSQL"):
        call_command("bench_ledger", stdout=StringIO())


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_bench_without_pgbench_says_so_and_still_measures_the_service(monkeypatch):
    monkeypatch.setattr("wallet.benchmark.pgbench_path", lambda: None)
    out = StringIO()
    call_command(
        "bench_ledger",
        "--seconds",
        "0.2",
        "--rounds",
        "1",
        "--tenant",
        "bench-nopg",
        stdout=out,
    )
    text = out.getvalue()
    assert "pgbench is not installed" in text
    for scale in (1, 8):  # both scales by default, each labelled
        assert re.search(
            rf"pgbench TPC-B-like, scale {scale}, .*\(TPS\)\s+n/a\s+n/a", text
        )
        assert re.search(rf"ratio to pgbench scale {scale}\s+n/a\s+n/a", text)
        assert (
            f"target: transfers at 8 workers >= 1.0x pgbench scale {scale} at 8 "
            "clients: not measured" in text
        )
    assert re.search(r"ledger transfers \(/s\)\s+[\d,]+\s+[\d,]+", text)
    assert "Dropped scratch database" not in text
