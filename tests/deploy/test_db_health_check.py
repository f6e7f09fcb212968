"""The connection health check that costs no round trip
(common/db_backends/postgresql): a healthy idle connection is reused without a
query; one the server closed is noticed from the socket and replaced before the
request's first query; one left in a failed transaction is not reused."""

import time

import psycopg
import pytest
from django.conf import settings
from django.db import connections

from tests.payments.outbox.conftest import database_url

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def own_connection():
    """A connection wrapper of its own (not the test's), health-checked like a
    request's persistent connection."""
    wrapper = connections.create_connection("default")
    wrapper.ensure_connection()
    yield wrapper
    wrapper.close()


def backend_pid(wrapper) -> int:
    with wrapper.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        return cursor.fetchone()[0]


def test_the_project_backend_is_selected_for_postgres(own_connection):
    assert own_connection.settings_dict["ENGINE"] == "common.db_backends.postgresql"


def test_a_healthy_idle_connection_is_usable_without_a_query(
    own_connection, monkeypatch
):
    backend_pid(own_connection)

    def no_round_trip(*args, **kwargs):
        raise AssertionError("the health check sent a query")

    monkeypatch.setattr(own_connection.connection, "cursor", no_round_trip)
    monkeypatch.setattr(own_connection.connection, "execute", no_round_trip)
    assert own_connection.is_usable()


@pytest.mark.skipif(
    settings.DATABASE_PGBOUNCER,
    reason="through PgBouncer in transaction mode the client's connection is to the "
    "bouncer: a terminated server backend is PgBouncer's to replace, and the test's "
    "own admin connection may be given that very backend",
)
def test_a_connection_the_server_closed_is_replaced_before_the_first_query(
    own_connection,
):
    old_pid = backend_pid(own_connection)
    with psycopg.connect(database_url(), autocommit=True) as admin:
        admin.execute("SELECT pg_terminate_backend(%s)", [old_pid])
    deadline = time.monotonic() + 5
    while own_connection.is_usable() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not own_connection.is_usable()

    # What Django does at a request's first query after CONN_MAX_AGE reuse.
    own_connection.health_check_done = False
    own_connection.close_if_health_check_failed()
    assert backend_pid(own_connection) != old_pid


def test_a_connection_left_in_a_failed_transaction_is_not_reused(own_connection):
    own_connection.connection.autocommit = False
    with pytest.raises(psycopg.errors.DivisionByZero):
        own_connection.connection.execute("SELECT 1 / 0")
    assert not own_connection.is_usable()
    own_connection.connection.rollback()
    own_connection.connection.autocommit = True
    assert own_connection.is_usable()
