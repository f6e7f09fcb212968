"""``manage.py reconcile``: the payments against the ledger. Each test breaks one
invariant on purpose, past the services (what an incident or a bad manual fix
would do), and checks the command names it and exits non-zero."""

import pytest
from django.conf import settings
from django.core.management import CommandError
from django.db import transaction
from django.db.models import F

from common.actors import Actor
from payments.withdrawals.manual import manual_payout_mark_paid
from tests.adyen.factories import adyen_rows
from tests.factories import PlayerFactory, fund
from tests.ops.conftest import run, run_failing
from tests.payments.factories import completed_deposit
from tests.withdrawals.factories import (
    OPERATOR,
    latest_attempt,
    verified_player,
    withdrawal_payout_pending,
    withdrawal_requested,
)
from wallet import services as wallet
from wallet.models import (
    Account,
    Deposit,
    Entry,
    Finding,
    JournalTransaction,
    Withdrawal,
)

pytestmark = pytest.mark.django_db

PSP = Actor.psp("stripe")


def paid_withdrawal(player, amount_minor=1_000):
    withdrawal = withdrawal_payout_pending(player, amount_minor)
    with transaction.atomic():
        manual_payout_mark_paid(
            attempt=latest_attempt(withdrawal), actor=OPERATOR, bank_reference="B-1"
        )
    withdrawal.refresh_from_db()
    return withdrawal


def test_a_busy_clean_brand_reconciles_and_its_system_balances_are_printed():
    player = verified_player(balance_minor=0)
    refunded = completed_deposit(player, 5_000)
    disputed = completed_deposit(player, 3_000)
    paid_withdrawal(player, 1_000)
    withdrawal_requested(player, 500)
    wallet.deposit_refund_record(
        deposit_id=refunded.pk,
        tenant_id=player.tenant_id,
        refunded_total_minor=1_000,
        currency="EUR",
        actor=PSP,
    )
    wallet.deposit_chargeback_record(
        deposit_id=disputed.pk,
        tenant_id=player.tenant_id,
        amount_minor=3_000,
        currency="EUR",
        actor=PSP,
    )  # freezes the player's withdrawals, so those came first

    out = run("reconcile", "--tenant", player.tenant.slug)

    slug = player.tenant.slug
    assert f"Reconciliation clean (tenant {slug})." in out
    # 8,000 in, 1,000 refunded and 3,000 charged back to the PSP: it owes 4,000.
    assert f"BALANCE {slug} psp_clearing stripe -40.00 EUR" in out
    assert f"BALANCE {slug} withdrawals_in_flight manual 10.00 EUR" in out


def test_completed_deposit_whose_amount_differs_from_its_credit_is_reported():
    player = PlayerFactory()
    deposit = completed_deposit(player, 5_000)
    Deposit.objects.filter(pk=deposit.pk).update(amount_minor=4_000)

    out, error = run_failing("reconcile")

    assert (
        f"VIOLATION deposit {deposit.pk} is 40.00 EUR but its credit transaction "
        f"{deposit.credit_transaction_id} credited 50.00 EUR"
    ) in out
    assert error == "1 reconciliation violation(s) in all tenants."


def test_completed_deposit_credited_twice_is_reported():
    player = PlayerFactory()
    deposit = completed_deposit(player, 5_000)
    second = wallet.player_credit(
        player=player,
        currency="EUR",
        amount_minor=5_000,
        source_kind=Account.Kind.PSP_CLEARING,
        kind=JournalTransaction.Kind.DEPOSIT,
        idempotency_key="a-second-credit",
        actor=PSP,
        provider="stripe",
        reference=f"deposit:{deposit.pk}",
    )

    out, _ = run_failing("reconcile")

    assert (
        f"VIOLATION deposit {deposit.pk} is completed with 2 credit postings "
        f"(transactions {deposit.credit_transaction_id}, {second.transaction_id})"
    ) in out


def test_credit_posting_for_a_deposit_that_is_not_completed_is_reported():
    player = PlayerFactory()
    deposit = completed_deposit(player)
    Deposit.objects.filter(pk=deposit.pk).update(state=Deposit.State.EXPIRED)

    out, _ = run_failing("reconcile")

    assert f"VIOLATION deposit {deposit.pk} is expired but has credit postings" in out


def test_refunded_amount_that_differs_from_the_refund_postings_is_reported():
    player = PlayerFactory()
    deposit = completed_deposit(player)
    wallet.deposit_refund_record(
        deposit_id=deposit.pk,
        tenant_id=player.tenant_id,
        refunded_total_minor=1_000,
        currency="EUR",
        actor=PSP,
    )
    Deposit.objects.filter(pk=deposit.pk).update(refunded_minor=1_500)

    out, _ = run_failing("reconcile")

    assert (
        f"VIOLATION deposit {deposit.pk} records 15.00 EUR refunded but its "
        "postings total 10.00 EUR"
    ) in out


def test_charged_back_amount_without_its_posting_is_reported():
    player = PlayerFactory()
    deposit = completed_deposit(player)
    Deposit.objects.filter(pk=deposit.pk).update(charged_back_minor=5_000)

    out, _ = run_failing("reconcile")

    assert (
        f"VIOLATION deposit {deposit.pk} records 50.00 EUR charged back but its "
        "postings total 0.00 EUR"
    ) in out


def test_held_funds_without_a_pending_withdrawal_are_reported():
    player = verified_player(balance_minor=5_000)
    wallet.hold_place(
        player=player,
        currency="EUR",
        amount_minor=700,
        idempotency_key="a-stray-hold",
        actor=OPERATOR,
    )

    out, _ = run_failing("reconcile")

    assert (
        f"VIOLATION player {player.pk} EUR: held 7.00 EUR but withdrawals awaiting "
        "payout hold 0.00 EUR"
    ) in out


def test_rejected_withdrawal_whose_hold_was_never_released_is_reported():
    player = verified_player(balance_minor=5_000)
    withdrawal = withdrawal_requested(player, 2_000)
    Withdrawal.objects.filter(pk=withdrawal.pk).update(state=Withdrawal.State.REJECTED)

    out, _ = run_failing("reconcile")

    assert (
        f"VIOLATION withdrawal {withdrawal.pk} is rejected but its hold is pending, "
        "not voided"
    ) in out
    assert (
        f"player {player.pk} EUR: held 20.00 EUR but withdrawals awaiting payout" in out
    )


def test_paid_withdrawal_without_a_posted_hold_is_reported():
    player = verified_player(balance_minor=5_000)
    withdrawal = withdrawal_payout_pending(player, 2_000)
    Withdrawal.objects.filter(pk=withdrawal.pk).update(state=Withdrawal.State.PAID)

    out, _ = run_failing("reconcile")

    assert (
        f"VIOLATION withdrawal {withdrawal.pk} is paid but its hold is pending, "
        "not posted"
    ) in out


def test_the_ledgers_own_invariants_are_checked_too():
    player = PlayerFactory()
    completed_deposit(player)
    available = Account.objects.get(player=player, kind=Account.Kind.PLAYER_AVAILABLE)
    Account.objects.filter(pk=available.pk).update(balance_minor=F("balance_minor") + 1)

    out, _ = run_failing("reconcile")

    assert f"VIOLATION account {available.pk} caches 50.01 EUR" in out


# PostgreSQL refuses UPDATE on entries (pgtrigger Protect, append-only ledger):
# there this breakage cannot happen at all.
@pytest.mark.skipif(
    "postgresql" in settings.DATABASES["default"]["ENGINE"],
    reason="PostgreSQL itself refuses to change an entry (append-only trigger)",
)
def test_credit_entries_rewritten_behind_the_ledger_are_reported():
    player = PlayerFactory()
    deposit = completed_deposit(player, 5_000)
    Entry.objects.filter(transaction_id=deposit.credit_transaction_id).update(
        amount_minor=F("amount_minor") * 2
    )

    out, _ = run_failing("reconcile")

    assert (
        f"credit transaction {deposit.credit_transaction_id} credited 100.00 EUR" in out
    )


def test_tenant_option_checks_only_that_tenant():
    clean = PlayerFactory()
    broken = PlayerFactory()
    completed_deposit(clean)
    deposit = completed_deposit(broken)
    Deposit.objects.filter(pk=deposit.pk).update(refunded_minor=1)

    assert "Reconciliation clean" in run("reconcile", "--tenant", clean.tenant.slug)
    out, error = run_failing("reconcile", "--tenant", broken.tenant.slug)
    assert f"deposit {deposit.pk} records 0.01 EUR refunded" in out
    assert error.endswith(f"in tenant {broken.tenant.slug}.")


def test_unknown_tenant_is_an_error():
    with pytest.raises(CommandError, match="No tenant with slug 'nope'"):
        run("reconcile", "--tenant", "nope")


def test_check_ledger_still_passes_a_ledger_that_reconcile_finds_inconsistent():
    player = PlayerFactory()
    deposit = completed_deposit(player)
    Deposit.objects.filter(pk=deposit.pk).update(refunded_minor=1)

    assert "Ledger clean" in run("check_ledger")
    run_failing("reconcile")


def test_adyen_deposit_refund_and_chargeback_through_notifications_reconcile(
    fake_adyen_routes,
):
    player = PlayerFactory()
    _, deposit = adyen_rows(player.tenant, player)
    assert deposit.charged_back_minor > 0

    out = run("reconcile", "--tenant", player.tenant.slug)

    assert "Reconciliation clean" in out
    # 30.00 paid in, 30.00 charged back (the player's cash covered it all).
    assert f"BALANCE {player.tenant.slug} psp_clearing adyen 0.00 EUR" in out


def test_a_deposit_credit_without_its_deposit_record_is_reported():
    player = verified_player(balance_minor=0)
    completed_deposit(player, 5_000)  # a real one: not reported
    orphan = fund(player, 2_500)  # a Deposit posting straight through the ledger

    out, error = run_failing("reconcile")

    assert (
        f"VIOLATION DEPOSIT_CREDIT_WITHOUT_DEPOSIT transaction {orphan.transaction_id} "
        "credits 25.00 EUR as a deposit (reference '') but names no deposit record"
    ) in out
    assert out.count("DEPOSIT_CREDIT_WITHOUT_DEPOSIT") == 1
    assert error == "1 reconciliation violation(s) in all tenants."


def test_a_payout_posting_without_its_withdrawal_is_reported():
    player = verified_player(balance_minor=0)
    completed_deposit(player, 5_000)
    paid_withdrawal(player, 1_000)  # a real payout: not reported
    hold = wallet.hold_place(
        player=player,
        currency="EUR",
        amount_minor=700,
        idempotency_key="hold-without-withdrawal",
        actor=OPERATOR,
    )
    posted = wallet.hold_post(hold=hold, actor=OPERATOR, provider="manual")
    direct = wallet.player_debit(
        player=player,
        currency="EUR",
        amount_minor=300,
        destination_kind=Account.Kind.WITHDRAWALS_IN_FLIGHT,
        kind=JournalTransaction.Kind.ADJUSTMENT,
        idempotency_key="paid-out-by-hand",
        actor=OPERATOR,
        provider="manual",
    )

    out, error = run_failing("reconcile")

    assert (
        f"VIOLATION PAYOUT_WITHOUT_WITHDRAWAL transaction "
        f"{posted.resolve_transaction_id} (withdrawal_post) pays out 7.00 EUR but is "
        "no withdrawal's payout"
    ) in out
    assert (
        f"VIOLATION PAYOUT_WITHOUT_WITHDRAWAL transaction {direct.transaction_id} "
        "(adjustment) pays out 3.00 EUR but is no withdrawal's payout"
    ) in out
    assert error == "2 reconciliation violation(s) in all tenants."


def test_each_violation_is_one_critical_finding_across_runs():
    player = PlayerFactory()
    deposit = completed_deposit(player, 5_000)
    Deposit.objects.filter(pk=deposit.pk).update(amount_minor=4_000)
    available = Account.objects.get(player=player, kind=Account.Kind.PLAYER_AVAILABLE)
    Account.objects.filter(pk=available.pk).update(balance_minor=F("balance_minor") + 1)
    run_failing("reconcile")

    run_failing("reconcile")

    findings = {f.code: f for f in Finding.objects.filter(tenant=player.tenant)}
    assert set(findings) == {
        "ledger_invariant_violation",
        "payments_invariant_violation",
    }
    assert {f.severity for f in findings.values()} == {"critical"}
    assert {f.times_seen for f in findings.values()} == {2}
    assert {f.source for f in findings.values()} == {"reconcile"}


def test_a_clean_reconcile_records_no_finding():
    completed_deposit(PlayerFactory(), 5_000)

    run("reconcile")

    assert not Finding.objects.exists()
