"""PostgreSQL refuses a broken ledger by itself, even when the services are bypassed
with raw SQL: a deferred trigger checks that every transaction sums to zero per
currency at commit, triggers refuse UPDATE and DELETE of the append-only tables, and a
CHECK keeps player balances non-negative. Entries reference their account without a
foreign key (whose check would lock the account row); the same deferred trigger checks
the account instead, and accounts can be neither deleted nor re-identified. Entries,
transactions and audit events reference their tenant (and entries their transaction)
without a foreign key either, for the same reason: deferred triggers check those
references at commit, and tenants can be neither deleted nor re-numbered."""

import pytest
from django.db import DatabaseError, IntegrityError, connection, transaction
from django.db.models import ProtectedError

from audit.models import AuditEvent
from tenants.models import Tenant
from tests.factories import PlayerFactory, TenantFactory, fund
from tests.ledger.helpers import available_of
from wallet import services
from wallet.models import Account, Entry, JournalTransaction

pytestmark = pytest.mark.postgres

INSERT_TRANSACTION = """
    INSERT INTO wallet_journaltransaction (
        tenant_id, kind, idempotency_key, request_hash, reference, description,
        actor_type, actor_label, request_id, metadata, created_at)
    VALUES (%s, 'adjustment', %s, '', '', '', 'system', 'raw-sql', '', '{}', now())
    RETURNING id
"""
INSERT_ENTRY = """
    INSERT INTO wallet_entry (
        tenant_id, transaction_id, account_id, currency, amount_minor, created_at)
    VALUES (%s, %s, %s, %s, %s, now())
"""


def _accounts(player):
    available, _ = services.player_accounts_get_or_create(player=player, currency="EUR")
    clearing = services.system_account_get_or_create(
        tenant_id=player.tenant_id, kind=Account.Kind.PSP_CLEARING, currency="EUR"
    )
    return available, clearing


def _raw_posting(player, lines, key, currency="EUR"):
    """Lines are (account or account id, amount)."""
    with connection.cursor() as cursor:
        cursor.execute(INSERT_TRANSACTION, [player.tenant_id, key])
        (txn_id,) = cursor.fetchone()
        for account, amount in lines:
            account_id = getattr(account, "pk", account)
            cursor.execute(
                INSERT_ENTRY, [player.tenant_id, txn_id, account_id, currency, amount]
            )
    return txn_id


@pytest.mark.django_db(transaction=True)
def test_unbalanced_transaction_written_with_raw_sql_is_refused_at_commit():
    player = PlayerFactory()
    available, clearing = _accounts(player)
    with pytest.raises(DatabaseError, match="LEDGER_UNBALANCED_TRANSACTION"):  # noqa: SIM117
        with transaction.atomic():
            _raw_posting(player, [(clearing, -500), (available, 400)], "raw:1")
    assert not JournalTransaction.objects.filter(idempotency_key="raw:1").exists()
    assert not Entry.objects.filter(tenant_id=player.tenant_id).exists()


@pytest.mark.django_db(transaction=True)
def test_balanced_transaction_written_line_by_line_commits_because_the_check_is_deferred():
    player = PlayerFactory()
    available, clearing = _accounts(player)
    with transaction.atomic():
        txn_id = _raw_posting(player, [(clearing, -500), (available, 500)], "raw:2")
    assert Entry.objects.filter(transaction_id=txn_id).count() == 2


@pytest.mark.django_db(transaction=True)
def test_single_entry_written_with_raw_sql_in_autocommit_is_refused():
    player = PlayerFactory()
    _, clearing = _accounts(player)
    with pytest.raises(DatabaseError, match="LEDGER_UNBALANCED_TRANSACTION"):
        _raw_posting(player, [(clearing, -500)], "raw:3")
    assert not Entry.objects.filter(tenant_id=player.tenant_id).exists()


@pytest.mark.django_db(transaction=True)
def test_entry_on_an_account_of_another_currency_is_refused_at_commit():
    player = PlayerFactory()
    available, _ = _accounts(player)
    clearing_usd = services.system_account_get_or_create(
        tenant_id=player.tenant_id, kind=Account.Kind.PSP_CLEARING, currency="USD"
    )
    with pytest.raises(DatabaseError, match="LEDGER_ACCOUNT_MISMATCH"):  # noqa: SIM117
        with transaction.atomic():
            _raw_posting(
                player, [(clearing_usd, -500), (available, 500)], "raw:4", "USD"
            )
    assert not Entry.objects.filter(tenant_id=player.tenant_id).exists()


@pytest.mark.django_db(transaction=True)
def test_entry_on_an_account_of_another_tenant_is_refused_at_commit():
    player = PlayerFactory()
    stranger = PlayerFactory()
    _, clearing = _accounts(player)
    stranger_available, _ = _accounts(stranger)
    with pytest.raises(DatabaseError, match="LEDGER_ACCOUNT_MISMATCH"):  # noqa: SIM117
        with transaction.atomic():
            _raw_posting(player, [(clearing, -500), (stranger_available, 500)], "raw:5")
    assert not Entry.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_entry_on_a_missing_account_is_refused_at_commit():
    player = PlayerFactory()
    _, clearing = _accounts(player)
    with pytest.raises(DatabaseError, match="LEDGER_ACCOUNT_MISMATCH"):  # noqa: SIM117
        with transaction.atomic():
            _raw_posting(player, [(clearing, -500), (10**12, 500)], "raw:6")
    assert not Entry.objects.exists()


def _refused_statement(sql, params, error=DatabaseError, match="Cannot update"):
    with pytest.raises(error, match=match), transaction.atomic():  # noqa: SIM117
        with connection.cursor() as cursor:
            cursor.execute(sql, params)


@pytest.mark.django_db
def test_update_and_delete_of_entries_are_refused_with_raw_sql():
    player = PlayerFactory()
    fund(player, 5000)
    entry = Entry.objects.get(account__player=player)
    _refused_statement(
        "UPDATE wallet_entry SET amount_minor = 1 WHERE id = %s", [entry.pk]
    )
    _refused_statement("DELETE FROM wallet_entry WHERE id = %s", [entry.pk])
    assert Entry.objects.get(pk=entry.pk).amount_minor == 5000


@pytest.mark.django_db
def test_update_and_delete_of_journal_transactions_are_refused_with_raw_sql():
    player = PlayerFactory()
    txn_id = fund(player, 5000).transaction_id
    _refused_statement(
        "UPDATE wallet_journaltransaction SET reference = 'x' WHERE id = %s", [txn_id]
    )
    _refused_statement("DELETE FROM wallet_journaltransaction WHERE id = %s", [txn_id])
    assert JournalTransaction.objects.get(pk=txn_id).reference == ""


@pytest.mark.django_db
def test_update_and_delete_of_audit_events_are_refused_with_raw_sql():
    player = PlayerFactory()
    txn_id = fund(player, 5000).transaction_id
    params = ["wallet.JournalTransaction", str(txn_id)]
    where = "WHERE target_type = %s AND target_id = %s"
    _refused_statement(f"UPDATE audit_auditevent SET reason = 'x' {where}", params)
    _refused_statement(
        f"DELETE FROM audit_auditevent {where}", params, match="Cannot delete"
    )
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT count(*) FROM audit_auditevent {where}", params)
        assert cursor.fetchone() == (1,)


@pytest.mark.django_db
def test_negative_player_balance_is_refused_by_the_check_constraint():
    player = PlayerFactory()
    fund(player, 5000)
    available, _ = _accounts(player)
    _refused_statement(
        "UPDATE wallet_account SET balance_minor = -1 WHERE id = %s",
        [available.pk],
        error=IntegrityError,
        match="account_player_balance_non_negative",
    )
    assert available_of(player) == 5000


@pytest.mark.django_db
def test_system_accounts_may_go_negative_because_they_carry_no_cached_balance():
    player = PlayerFactory()
    _, clearing = _accounts(player)
    with connection.cursor() as cursor:
        cursor.execute(
            "UPDATE wallet_account SET balance_minor = -1 WHERE id = %s", [clearing.pk]
        )
    clearing.refresh_from_db()
    assert clearing.balance_minor == -1


@pytest.mark.django_db
def test_accounts_cannot_be_deleted_or_re_identified_with_raw_sql():
    player = PlayerFactory()
    fund(player, 5000)
    available, _ = _accounts(player)
    _refused_statement(
        "DELETE FROM wallet_account WHERE id = %s",
        [available.pk],
        match="Cannot delete",
    )
    for column, value in (("currency", "USD"), ("kind", "player_held")):
        _refused_statement(
            f"UPDATE wallet_account SET {column} = %s WHERE id = %s",
            [value, available.pk],
        )
    _refused_statement(
        "UPDATE wallet_account SET tenant_id = %s WHERE id = %s",
        [PlayerFactory().tenant_id, available.pk],
    )
    available.refresh_from_db()
    assert (available.currency, available.kind, available.tenant_id) == (
        "EUR",
        "player_available",
        player.tenant_id,
    )


@pytest.mark.django_db
def test_player_balance_stays_updatable_for_the_posting_path():
    player = PlayerFactory()
    fund(player, 5000)
    available, _ = _accounts(player)
    with connection.cursor() as cursor:
        cursor.execute(
            "UPDATE wallet_account SET balance_minor = 4000 WHERE id = %s",
            [available.pk],
        )
    assert available_of(player) == 4000


MISSING_ID = 10**12


@pytest.mark.django_db(transaction=True)
def test_entry_whose_tenant_does_not_exist_is_refused_at_commit():
    player = PlayerFactory()
    available, clearing = _accounts(player)
    with pytest.raises(DatabaseError, match="LEDGER_ACCOUNT_MISMATCH"):  # noqa: SIM117
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(INSERT_TRANSACTION, [player.tenant_id, "raw:7"])
            (txn_id,) = cursor.fetchone()
            for account, amount in ((clearing, -500), (available, 500)):
                cursor.execute(
                    INSERT_ENTRY, [MISSING_ID, txn_id, account.pk, "EUR", amount]
                )
    assert not Entry.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_entry_whose_transaction_does_not_exist_is_refused_at_commit():
    player = PlayerFactory()
    available, clearing = _accounts(player)
    with pytest.raises(DatabaseError, match="LEDGER_TRANSACTION_MISMATCH"):  # noqa: SIM117
        with transaction.atomic(), connection.cursor() as cursor:
            for account, amount in ((clearing, -500), (available, 500)):
                cursor.execute(
                    INSERT_ENTRY,
                    [player.tenant_id, MISSING_ID, account.pk, "EUR", amount],
                )
    assert not Entry.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_entry_in_a_transaction_of_another_tenant_is_refused_at_commit():
    player = PlayerFactory()
    stranger = PlayerFactory()
    available, clearing = _accounts(player)
    with pytest.raises(DatabaseError, match="LEDGER_TRANSACTION_MISMATCH"):  # noqa: SIM117
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(INSERT_TRANSACTION, [stranger.tenant_id, "raw:8"])
            (txn_id,) = cursor.fetchone()
            for account, amount in ((clearing, -500), (available, 500)):
                cursor.execute(
                    INSERT_ENTRY, [player.tenant_id, txn_id, account.pk, "EUR", amount]
                )
    assert not Entry.objects.exists()
    assert not JournalTransaction.objects.filter(idempotency_key="raw:8").exists()


@pytest.mark.django_db(transaction=True)
def test_journal_transaction_whose_tenant_does_not_exist_is_refused_at_commit():
    with pytest.raises(DatabaseError, match="TENANT_NOT_FOUND"):  # noqa: SIM117
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(INSERT_TRANSACTION, [MISSING_ID, "raw:9"])
    assert not JournalTransaction.objects.filter(idempotency_key="raw:9").exists()


INSERT_AUDIT = """
    INSERT INTO audit_auditevent (
        tenant_id, actor_type, actor_label, action, target_type, target_id, reason,
        request_id, created_at)
    VALUES (%s, 'system', 'raw-sql', %s, '', '', '', '', now())
"""


@pytest.mark.django_db(transaction=True)
def test_audit_event_whose_tenant_does_not_exist_is_refused_at_commit():
    with pytest.raises(DatabaseError, match="TENANT_NOT_FOUND"):  # noqa: SIM117
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(INSERT_AUDIT, [MISSING_ID, "raw.missing_tenant"])
    assert not AuditEvent.objects.filter(action="raw.missing_tenant").exists()


@pytest.mark.django_db(transaction=True)
def test_audit_event_without_a_tenant_is_still_accepted():
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(INSERT_AUDIT, [None, "raw.platform"])
    assert AuditEvent.objects.filter(action="raw.platform", tenant=None).exists()


@pytest.mark.django_db
def test_tenant_with_entries_cannot_be_deleted_by_the_orm_or_raw_sql():
    player = PlayerFactory()
    fund(player, 5000)
    tenant = Tenant.objects.get(pk=player.tenant_id)
    with pytest.raises(ProtectedError), transaction.atomic():
        tenant.delete()
    _refused_statement(
        "DELETE FROM tenants_tenant WHERE id = %s", [tenant.pk], match="Cannot delete"
    )
    assert Entry.objects.filter(tenant_id=tenant.pk).count() == 2


@pytest.mark.django_db
def test_no_tenant_can_be_deleted_or_renumbered_with_raw_sql():
    tenant = TenantFactory()
    _refused_statement(
        "DELETE FROM tenants_tenant WHERE id = %s", [tenant.pk], match="Cannot delete"
    )
    _refused_statement(
        "UPDATE tenants_tenant SET id = %s WHERE id = %s", [MISSING_ID, tenant.pk]
    )
    assert Tenant.objects.filter(pk=tenant.pk).exists()


@pytest.mark.django_db
def test_tenant_stays_editable_apart_from_its_id():
    tenant = TenantFactory()
    with connection.cursor() as cursor:
        cursor.execute(
            "UPDATE tenants_tenant SET status = 'suspended' WHERE id = %s", [tenant.pk]
        )
    tenant.refresh_from_db()
    assert tenant.status == "suspended"
