"""Every error PostgreSQL can raise on the posting path leaves as a registered code
with its HTTP status (``common/dberrors.py``), never as a 500 ``INTERNAL_ERROR``:
through the API (a withdrawal request posts a hold) and through the services, whether
the error surfaces inside the posting call or only when the outermost transaction
commits (the deferred entry trigger).

The refusals are provoked by a trigger the test installs on the ledger tables: it
bends one row the way a bug would (an entry pointing at another tenant's transaction,
an amount doubled, a balance pushed below zero), and the real checks of
``wallet/sql.py`` and the real constraints refuse it. Serialization failures,
deadlocks and a racing idempotency key cannot be produced on demand by the posting
function (it locks in id order and claims keys with ``ON CONFLICT``), so the trigger
raises the exact SQLSTATE and constraint name PostgreSQL would."""

import pytest
from django.db import connection

from common.actors import Actor
from common.dberrors import atomic_action
from common.errors import ApplicationError
from tests.admin.test_player_admin import adjust_url, rendered_token
from tests.factories import PlayerFactory, fund, token_for
from tests.portal.test_portal import login, withdraw_form
from tests.withdrawals.factories import DESTINATION, verified_player
from wallet import services
from wallet.models import Account, Entry, Hold, JournalTransaction, Withdrawal
from wallet.selectors import balance_list

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

TRIGGER = """
CREATE FUNCTION test_bend_posting() RETURNS trigger LANGUAGE plpgsql AS $fn$
BEGIN
    {body}
    RETURN NEW;
END $fn$;
CREATE TRIGGER test_bend_posting BEFORE INSERT ON {table}
    FOR EACH ROW EXECUTE FUNCTION test_bend_posting();
"""
DROP = """
DROP TRIGGER IF EXISTS test_bend_posting ON wallet_entry;
DROP TRIGGER IF EXISTS test_bend_posting ON wallet_journaltransaction;
DROP FUNCTION IF EXISTS test_bend_posting();
"""


@pytest.fixture
def bend():
    """``bend(table, body)`` installs a BEFORE INSERT trigger running ``body``."""

    def install(table: str, body: str) -> None:
        with connection.cursor() as cursor:
            cursor.execute(TRIGGER.format(table=table, body=body))

    yield install
    with connection.cursor() as cursor:
        cursor.execute(DROP)


def _other_tenants_transaction() -> int:
    stranger = PlayerFactory()
    return fund(stranger, 100).transaction_id


def _cases(player):
    """(name, table, trigger body, expected code, expected HTTP status)."""
    available, _ = services.player_accounts_get_or_create(player=player, currency="EUR")
    return {
        "transaction_mismatch": (
            "wallet_entry",
            f"NEW.transaction_id := {_other_tenants_transaction()};",
            "LEDGER_TRANSACTION_MISMATCH",
            500,
        ),
        "unbalanced": (
            "wallet_entry",
            "IF NEW.amount_minor > 0 THEN NEW.amount_minor := NEW.amount_minor * 2;"
            " END IF;",
            "LEDGER_UNBALANCED_TRANSACTION",
            500,
        ),
        "account_mismatch_at_commit": (
            "wallet_entry",
            "NEW.currency := 'USD';",
            "LEDGER_ACCOUNT_MISMATCH",
            500,
        ),
        "non_negative_check": (
            "wallet_journaltransaction",
            f"UPDATE wallet_account SET balance_minor = -1 WHERE id = {available.pk};",
            "INSUFFICIENT_FUNDS",
            400,
        ),
        "serialization_failure": (
            "wallet_journaltransaction",
            "RAISE EXCEPTION 'could not serialize access' "
            "USING ERRCODE = 'serialization_failure';",
            "CONCURRENT_UPDATE_CONFLICT",
            409,
        ),
        "deadlock": (
            "wallet_journaltransaction",
            "RAISE EXCEPTION 'deadlock detected' USING ERRCODE = 'deadlock_detected';",
            "CONCURRENT_UPDATE_CONFLICT",
            409,
        ),
        "idempotency_key_race": (
            "wallet_journaltransaction",
            "RAISE EXCEPTION 'duplicate key value' USING ERRCODE = 'unique_violation',"
            " CONSTRAINT = 'journal_txn_idempotency_unique';",
            "CONCURRENT_UPDATE_CONFLICT",
            409,
        ),
        "other_check_constraint": (
            "wallet_entry",
            "RAISE EXCEPTION 'violates check' USING ERRCODE = 'check_violation',"
            " CONSTRAINT = 'entry_amount_non_zero';",
            "DATA_INTEGRITY_VIOLATION",
            500,
        ),
    }


CASES = [
    "transaction_mismatch",
    "unbalanced",
    "account_mismatch_at_commit",
    "non_negative_check",
    "serialization_failure",
    "deadlock",
    "idempotency_key_race",
    "other_check_constraint",
]


def _ledger_state(player):
    return (
        JournalTransaction.objects.count(),
        Entry.objects.count(),
        Hold.objects.count(),
        Withdrawal.objects.count(),
        [(b.available_minor, b.held_minor) for b in balance_list(player=player)],
    )


@pytest.mark.parametrize("case", CASES)
def test_api_answers_the_registered_code_and_changes_nothing(case, bend, api_client):
    player = verified_player(balance_minor=10_000)
    table, body, code, status = _cases(player)[case]
    before = _ledger_state(player)
    bend(table, body)
    response = api_client.post(
        "/api/v1/withdrawals",
        {"amount": "20.00", "currency": "EUR", "destination": DESTINATION},
        format="json",
        HTTP_X_TENANT=player.tenant.slug,
        HTTP_AUTHORIZATION=f"Bearer {token_for(player)}",
        HTTP_IDEMPOTENCY_KEY=f"db-error-{case}",
    )
    assert response.status_code == status, response.content
    assert response.json()["error"]["code"] == code
    if status == 409:
        assert response.headers["Retry-After"] == "1"
    if status == 500:
        assert response.json()["error"]["details"] == {}  # nothing internal leaks
    assert _ledger_state(player) == before


@pytest.mark.parametrize("case", CASES)
def test_services_raise_the_registered_error_inside_the_callers_transaction(case, bend):
    player = verified_player(balance_minor=10_000)
    table, body, code, status = _cases(player)[case]
    before = _ledger_state(player)
    bend(table, body)
    with pytest.raises(ApplicationError) as raised:  # noqa: SIM117
        with atomic_action():
            services.player_debit(
                player=player,
                currency="EUR",
                amount_minor=500,
                destination_kind=Account.Kind.ADJUSTMENTS,
                kind=JournalTransaction.Kind.ADJUSTMENT,
                idempotency_key=f"db-error-service-{case}",
                actor=Actor.system("tests"),
            )
    assert (raised.value.code, raised.value.http_status) == (code, status)
    assert _ledger_state(player) == before


@pytest.mark.parametrize("case", ["transaction_mismatch", "unbalanced"])
def test_a_posting_outside_any_transaction_raises_the_registered_error_itself(
    case, bend
):
    """In autocommit the posting call is its own transaction: the deferred trigger
    fires at the end of that one statement, inside ``transaction_post``."""
    player = verified_player(balance_minor=10_000)
    table, body, code, _ = _cases(player)[case]
    before = _ledger_state(player)
    bend(table, body)
    with pytest.raises(ApplicationError) as raised:
        fund(player, 700)
    assert raised.value.code == code
    assert _ledger_state(player) == before


def test_the_portal_shows_the_code_of_a_database_refusal_instead_of_a_500(bend, client):
    player = verified_player(balance_minor=10_000)
    table, body, _, _ = _cases(player)["deadlock"]
    before = _ledger_state(player)
    bend(table, body)
    login(client, player)

    response = client.post("/withdraw/", withdraw_form())

    assert response.status_code == 200
    assert "(CONCURRENT_UPDATE_CONFLICT)" in response.content.decode()
    assert _ledger_state(player) == before


def test_the_admin_shows_the_code_of_a_refusal_at_commit_instead_of_a_500(
    bend, admin_client
):
    player = verified_player(balance_minor=10_000)
    table, body, _, _ = _cases(player)["transaction_mismatch"]
    before = _ledger_state(player)
    bend(table, body)
    form = {
        "direction": "credit",
        "currency": "EUR",
        "amount": "12.34",
        "reason": "compensation for outage",
        "token": rendered_token(admin_client, player),
    }

    response = admin_client.post(adjust_url(player), form, follow=True)

    assert response.status_code == 200
    assert "LEDGER_TRANSACTION_MISMATCH" in response.content.decode()
    assert _ledger_state(player) == before
