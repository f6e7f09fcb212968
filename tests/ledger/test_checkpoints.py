"""System account balances: latest checkpoint plus the entries after it."""

from datetime import timedelta

import pytest
from django.core.management import call_command

from tests.factories import PlayerFactory, TenantFactory, fund
from wallet.models import Account, AccountCheckpoint
from wallet.selectors import (
    account_balance,
    ledger_invariants_check,
    system_account_list_with_balances,
)
from wallet.services import account_checkpoints_take

pytestmark = pytest.mark.django_db


def clearing(tenant) -> Account:
    return Account.objects.get(tenant=tenant, kind=Account.Kind.PSP_CLEARING)


def test_balance_after_a_checkpoint_equals_the_sum_of_all_entries():
    tenant = TenantFactory()
    player = PlayerFactory(tenant=tenant)
    fund(player, 1_000)
    fund(player, 2_000)
    run = account_checkpoints_take(tenant_id=tenant.pk, margin=timedelta(0))
    fund(player, 500)  # after the checkpoint

    assert run.written >= 1
    assert AccountCheckpoint.objects.filter(account=clearing(tenant)).exists()
    assert account_balance(account=clearing(tenant)) == -3_500
    assert dict(
        (account.kind, balance)
        for account, balance in system_account_list_with_balances(tenant_id=tenant.pk)
    ) == {Account.Kind.PSP_CLEARING: -3_500}


def test_a_second_run_without_new_entries_writes_nothing():
    tenant = TenantFactory()
    fund(PlayerFactory(tenant=tenant), 1_000)
    account_checkpoints_take(tenant_id=tenant.pk, margin=timedelta(0))

    again = account_checkpoints_take(tenant_id=tenant.pk, margin=timedelta(0))

    assert again.written == 0


def test_entries_younger_than_the_margin_are_not_checkpointed():
    tenant = TenantFactory()
    fund(PlayerFactory(tenant=tenant), 1_000)

    run = account_checkpoints_take(tenant_id=tenant.pk, margin=timedelta(hours=1))

    assert run.written == 0
    assert run.skipped_reason == "no entry is old enough"


def test_a_checkpoint_that_disagrees_with_its_entries_is_a_ledger_violation():
    tenant = TenantFactory()
    fund(PlayerFactory(tenant=tenant), 1_000)
    account_checkpoints_take(tenant_id=tenant.pk, margin=timedelta(0))
    checkpoint = AccountCheckpoint.objects.get(account=clearing(tenant))
    AccountCheckpoint.objects.filter(pk=checkpoint.pk).update(balance_minor=7)

    problems = ledger_invariants_check(tenant_id=tenant.pk)

    assert any(f"checkpoint {checkpoint.pk}" in problem for problem in problems)


def test_the_command_reports_what_it_wrote(capsys):
    tenant = TenantFactory(slug="cp")
    fund(PlayerFactory(tenant=tenant), 1_000)

    call_command(
        "checkpoint_system_balances", "--tenant", "cp", "--margin-minutes", "0"
    )

    assert "1 checkpoint(s) written" in capsys.readouterr().out
