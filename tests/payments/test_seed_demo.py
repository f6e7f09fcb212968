"""``seed_demo``: the demo data of ``make run``, made through the same flows as a
player's and an operator's (deposits paid by signed PSP events through the real
webhook code, withdrawals requested, reviewed and paid out), so the ledger, the
deposit and withdrawal records, the portal and ``reconcile`` agree."""

import io

import pytest
from django.contrib.auth import get_user_model
from django.core.management import CommandError, call_command

from audit.models import AuditEvent
from casino.models import Player
from payments.models import WebhookInbox
from tenants.models import Tenant, TenantDomain
from wallet.models import (
    Account,
    Deposit,
    Entry,
    Hold,
    JournalTransaction,
    Withdrawal,
)
from wallet.selectors import (
    balance_list,
    ledger_invariants_check,
    payments_invariants_check,
)

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("simulator")]

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
    Deposit,
    Withdrawal,
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


def test_every_demo_deposit_line_has_its_deposit_paid_through_the_webhook():
    call_command("seed_demo", stdout=io.StringIO())

    credits = JournalTransaction.objects.filter(kind=JournalTransaction.Kind.DEPOSIT)
    deposits = Deposit.objects.filter(state=Deposit.State.COMPLETED)
    assert credits.count() == deposits.count() == 6
    assert set(deposits.values_list("credit_transaction_id", flat=True)) == set(
        credits.values_list("pk", flat=True)
    )
    for deposit in deposits:
        # Credited by the verified webhook delivery, as a player's deposit is.
        assert WebhookInbox.objects.filter(
            deposit_id=deposit.pk, status=WebhookInbox.Status.PROCESSED
        ).exists()
        assert deposit.payment_reference


def test_every_demo_payout_posting_belongs_to_a_withdrawal():
    call_command("seed_demo", stdout=io.StringIO())

    payouts = JournalTransaction.objects.filter(
        kind=JournalTransaction.Kind.WITHDRAWAL_POST
    )
    assert payouts.count() == 1
    paid = Withdrawal.objects.get(state=Withdrawal.State.PAID)
    assert paid.hold.resolve_transaction_id == payouts.get().pk
    assert Withdrawal.objects.filter(state=Withdrawal.State.REJECTED).count() == 2
    assert Withdrawal.objects.filter(state=Withdrawal.State.REQUESTED).count() == 1


def test_the_portal_lists_the_demo_deposits_above_their_ledger_lines(client):
    call_command("seed_demo", stdout=io.StringIO())

    client.post(
        "/login/?tenant=aurora",
        {"email": "alice@example.com", "password": "demo-player-pass"},
    )
    page = client.get("/wallet/?tenant=aurora").content.decode()

    assert "No deposits yet" not in page
    deposits = page.split('id="deposits"')[1].split("</table>")[0]
    assert deposits.count("state-completed") == 2
    assert "100.00 EUR" in deposits and "25.00 EUR" in deposits


def test_the_reconcile_command_finds_the_demo_data_clean():
    call_command("seed_demo", stdout=io.StringIO())
    out = io.StringIO()

    call_command("reconcile", stdout=out)

    assert "Reconciliation clean (all tenants)." in out.getvalue()


def test_seed_demo_refuses_without_the_simulator(settings):
    settings.PAYMENTS_SIMULATOR_ENABLED = False

    with pytest.raises(CommandError, match="PAYMENTS_SIMULATOR_ENABLED"):
        call_command("seed_demo", stdout=io.StringIO())
    assert not JournalTransaction.objects.exists()


def test_seed_demo_refuses_with_debug_off(settings):
    settings.DEBUG = False

    with pytest.raises(CommandError, match="DEBUG off"):
        call_command("seed_demo", stdout=io.StringIO())
    assert not get_user_model().objects.exists()
    assert not Tenant.objects.exists()
