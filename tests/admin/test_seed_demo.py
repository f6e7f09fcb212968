import io

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command

from audit.models import AuditEvent
from casino.models import Player
from tenants.models import Tenant, TenantDomain
from wallet.models import Account, Entry, Hold, JournalTransaction
from wallet.selectors import (
    balance_list,
    ledger_invariants_check,
    payments_invariants_check,
)

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _development_settings(settings):
    """Demo seeds run only with DEBUG on (common.demo_guard)."""
    settings.DEBUG = True


COUNTED = [
    Tenant,
    TenantDomain,
    get_user_model(),
    Player,
    Account,
    JournalTransaction,
    Entry,
    Hold,
    AuditEvent,
]


def counts() -> dict[str, int]:
    return {model.__name__: model.objects.count() for model in COUNTED}


def test_seed_demo_twice_duplicates_nothing_and_keeps_the_ledger_clean():
    call_command("seed_demo", stdout=io.StringIO())
    first = counts()

    call_command("seed_demo", stdout=io.StringIO())

    assert counts() == first
    assert first["JournalTransaction"] > 0
    assert ledger_invariants_check() == []
    assert payments_invariants_check() == []


def test_seed_demo_builds_two_brands_with_their_operators(capsys):
    call_command("seed_demo")

    aurora, nebula = (
        Tenant.objects.get(slug="aurora"),
        Tenant.objects.get(slug="nebula"),
    )
    assert list(aurora.operators.values_list("username", flat=True)) == [
        "aurora-operator"
    ]
    assert list(nebula.operators.values_list("username", flat=True)) == [
        "nebula-operator"
    ]
    assert nebula.allowed_currencies == ["EUR", "USD"]
    assert aurora.domains.get().domain == "aurora.localhost"
    out = capsys.readouterr().out
    assert "DEMO-ONLY" in out
    assert "aurora-operator / demo-aurora-pass" in out


def test_seed_demo_same_email_is_two_players_on_two_brands():
    call_command("seed_demo", stdout=io.StringIO())

    alices = Player.objects.filter(email="alice@example.com")

    assert sorted(alices.values_list("tenant__slug", flat=True)) == [
        "aurora",
        "nebula",
    ]
    nebula_alice = alices.get(tenant__slug="nebula")
    assert [(b.currency, b.total_minor) for b in balance_list(player=nebula_alice)] == [
        ("EUR", 4_000),
        ("USD", 18_500),
    ]


def test_seed_demo_refuses_with_debug_off(settings):
    from django.core.management.base import CommandError

    settings.DEBUG = False
    with pytest.raises(CommandError, match="DEBUG off"):
        call_command("seed_demo", stdout=io.StringIO())
    assert not get_user_model().objects.exists()
    assert not Tenant.objects.exists()
