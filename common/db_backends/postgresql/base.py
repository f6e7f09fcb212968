"""Django's PostgreSQL backend with a health check that costs no round trip.

``CONN_HEALTH_CHECKS`` makes Django ask ``is_usable()`` before the first query of
every request that reuses a persistent connection; the stock backend answers with a
``SELECT 1`` round trip, which was a quarter of a webhook delivery's time on the
server (issue 9's ingestion benchmark). This one reads what the client already knows
instead: the connection is open, libpq says it is healthy, no transaction is broken,
and nothing is waiting on the socket. An idle connection has nothing to read; a
server that terminated it (restart, ``pg_terminate_backend``, PgBouncer's idle
timeout) left an error message or EOF there, so a readable socket means "reconnect".
A peer that vanished without a word is caught by the first query failing, as with
``SELECT 1`` (which would block on it the same way).
"""

from __future__ import annotations

import select

from django.db.backends.postgresql import base
from psycopg.pq import ConnStatus, TransactionStatus

_REUSABLE = (TransactionStatus.IDLE, TransactionStatus.INTRANS)


class DatabaseWrapper(base.DatabaseWrapper):
    def is_usable(self) -> bool:
        connection = self.connection
        if connection is None or connection.closed or connection.broken:
            return False
        pgconn = connection.pgconn
        if pgconn.status != ConnStatus.OK or pgconn.transaction_status not in _REUSABLE:
            return False
        try:
            readable, _, _ = select.select([pgconn.socket], [], [], 0)
        except (OSError, ValueError):  # the descriptor is gone
            return False
        return not readable
