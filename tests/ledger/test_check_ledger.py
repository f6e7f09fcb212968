"""``manage.py check_ledger``: the reconciliation command over the invariant check.

The ledgers here are broken on purpose by writing rows past the services (what an
incident or a bad manual fix would do). On PostgreSQL these tests never commit, so the
deferred zero-sum trigger does not get the chance to refuse them either.
"""

from io import StringIO

import pytest
from django.conf import settings
from django.core.management import CommandError, call_command
from django.db.models import F

from tests.factories import PlayerFactory, fund
from tests.ledger.helpers import SYSTEM
from wallet import services
from wallet.models import Account, Entry, Hold, JournalTransaction

pytestmark = pytest.mark.django_db


def _check(*args):
    out = StringIO()
    call_command("check_ledger", *args, stdout=out)
    return out.getvalue()


def _failing_check(*args):
    out = StringIO()
    with pytest.raises(CommandError) as caught:
        call_command("check_ledger", *args, stdout=out)
    return out.getvalue(), str(caught.value)


def _available(player):
    available, _ = services.player_accounts_get_or_create(player=player, currency="EUR")
    return available


def test_clean_ledger_exits_zero_and_says_so():
    player = PlayerFactory()
    fund(player, 5000)
    services.hold_place(
        player=player,
        currency="EUR",
        amount_minor=1000,
        idempotency_key="hold:1",
        actor=SYSTEM,
    )
    assert "Ledger clean (all tenants)." in _check()
    assert f"Ledger clean (tenant {player.tenant.slug})." in _check(
        "--tenant", player.tenant.slug
    )


def test_cached_balance_that_drifted_from_its_entries_is_reported():
    player = PlayerFactory()
    fund(player, 5000)
    account = _available(player)
    Account.objects.filter(pk=account.pk).update(balance_minor=F("balance_minor") + 1)
    out, error = _failing_check()
    assert (
        f"VIOLATION account {account.pk} caches 50.01 EUR but its entries sum to 50.00 EUR"
        in (out)
    )
    assert error == "1 ledger invariant violation(s) in all tenants."


def test_cached_balance_of_an_account_without_entries_is_reported():
    player = PlayerFactory()
    account = _available(player)
    Account.objects.filter(pk=account.pk).update(balance_minor=700)
    out, _ = _failing_check()
    assert (
        f"account {account.pk} caches 7.00 EUR but its entries sum to 0.00 EUR" in out
    )


# PostgreSQL's deferred trigger refuses these rows when the test's constraints are
# checked at teardown; tests/ledger/test_database_guards.py shows that refusal.
sqlite_only = pytest.mark.skipif(
    "postgresql" in settings.DATABASES["default"]["ENGINE"],
    reason="PostgreSQL itself refuses this broken row (see test_database_guards.py)",
)


@sqlite_only
def test_unbalanced_transaction_is_reported():
    player = PlayerFactory()
    txn_id = fund(player, 5000).transaction_id
    account = _available(player)
    Entry.objects.create(
        tenant_id=player.tenant_id,
        transaction_id=txn_id,
        account=account,
        currency="EUR",
        amount_minor=1,
    )
    Account.objects.filter(pk=account.pk).update(balance_minor=5001)
    out, _ = _failing_check()
    assert f"VIOLATION transaction {txn_id} sums to 0.01 EUR" in out


def test_transaction_without_entries_is_reported():
    player = PlayerFactory()
    txn = JournalTransaction.objects.create(
        tenant=player.tenant,
        kind=JournalTransaction.Kind.ADJUSTMENT,
        idempotency_key="empty",
        request_hash="",
        actor_type="system",
        actor_label="tests",
    )
    out, _ = _failing_check()
    assert f"VIOLATION transaction {txn.pk} has no entries" in out


def test_pending_hold_without_held_funds_is_reported():
    player = PlayerFactory()
    txn_id = fund(player, 5000).transaction_id
    Hold.objects.create(
        tenant=player.tenant,
        player=player,
        currency="EUR",
        amount_minor=300,
        place_transaction_id=txn_id,
    )
    out, _ = _failing_check()
    assert f"player {player.pk} EUR: held 0.00 EUR but pending holds 3.00 EUR" in out


@sqlite_only
def test_entry_in_another_currency_than_its_account_is_reported():
    player = PlayerFactory()
    txn_id = fund(player, 5000).transaction_id
    clearing_usd = services.system_account_get_or_create(
        tenant_id=player.tenant_id, kind=Account.Kind.PSP_CLEARING, currency="USD"
    )
    for account, amount in ((_available(player), 10), (clearing_usd, -10)):
        Entry.objects.create(
            tenant_id=player.tenant_id,
            transaction_id=txn_id,
            account=account,
            currency="USD",
            amount_minor=amount,
        )
    out, _ = _failing_check()
    assert f"on account {_available(player).pk} is in USD for tenant" in out
    assert "its account in EUR" in out


def test_tenant_option_checks_only_that_tenant():
    clean = PlayerFactory()
    broken = PlayerFactory()
    fund(clean, 100)
    fund(broken, 100)
    Account.objects.filter(pk=_available(broken).pk).update(balance_minor=99)
    assert "Ledger clean" in _check("--tenant", clean.tenant.slug)
    out, error = _failing_check("--tenant", broken.tenant.slug)
    assert f"account {_available(broken).pk} caches 0.99 EUR" in out
    assert error.endswith(f"in tenant {broken.tenant.slug}.")


def test_unknown_tenant_is_an_error():
    with pytest.raises(CommandError, match="No tenant with slug 'nope'"):
        call_command("check_ledger", "--tenant", "nope", stdout=StringIO())
