"""One hot-path statement as a server-side prepared statement (PostgreSQL).

Django's cursors bind parameters on the client and Django turns psycopg's automatic
preparation off (for connection poolers), so the server parses and plans every
statement anew, and the ORM compiles it anew in Python. For the few statements that
run once per delivery or posting, a server-side-binding psycopg cursor on the same
connection (same transaction, same autocommit) prepares the statement once per
connection. Used by the ledger's posting call (``wallet.services.ledger``) and the
webhook inbox's INSERT (``payments.webhooks.services``).

``prepare=False`` sends the same statement unprepared: PgBouncer in transaction
mode before 1.21 routes no prepared statements (``DATABASE_PGBOUNCER``). Errors
come out as Django's ``DatabaseError`` family; the statement does not appear in
``connection.queries``.
"""

from __future__ import annotations

from collections.abc import Sequence

import psycopg


def prepared_fetchone(
    wrapper, statement: str, params: Sequence, *, prepare: bool = True
) -> tuple | None:
    """Run ``statement`` on the Django connection ``wrapper`` and return its first
    row. Outside a transaction it is its own (autocommit); inside one it joins it.
    A reused persistent connection is health-checked first, as Django's own cursors
    do at a request's first query."""
    wrapper.close_if_health_check_failed()
    wrapper.ensure_connection()
    with wrapper.wrap_database_errors:
        wrapper.validate_no_broken_transaction()
        pg = wrapper.connection
        cursor = prepared_cursor(wrapper)
        if not prepare:
            cursor.execute(statement, params)
            return cursor.fetchone()
        threshold = pg.prepare_threshold
        pg.prepare_threshold = 0  # for this statement only
        try:
            cursor.execute(statement, params, prepare=True)
        finally:
            pg.prepare_threshold = threshold
        return cursor.fetchone()


def prepared_cursor(wrapper) -> psycopg.Cursor:
    """A server-side-binding psycopg cursor on the wrapper's current connection, kept
    for the connection's lifetime (a new connection gets a new one)."""
    pg = wrapper.connection
    cached = getattr(wrapper, "_prepared_cursor", None)
    if cached is not None and cached[0] is pg:
        return cached[1]
    cursor = psycopg.Cursor(pg)
    wrapper._prepared_cursor = (pg, cursor)
    return cursor
