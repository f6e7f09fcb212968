"""Reads that may go to a PostgreSQL read replica.

When ``DATABASE_REPLICA_URL`` is set, settings add a ``replica`` database alias and
this router. Only code that asks for it reads from the replica: the finance
dashboard, the liability report and the settlement matcher's lookups wrap their
reads in ``replica_reads()``. Everything else, and every write, uses the primary:
money writes, and every read that decides on money (balances under lock,
idempotency checks, findings de-duplication), must see the latest committed state,
which a replica may lag behind. Migrations run on the primary only.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

from django.conf import settings

REPLICA = "replica"

_replica_reads: ContextVar[bool] = ContextVar("replica_reads", default=False)


def replica_configured() -> bool:
    """A replica alias exists and report reads may use it (``REPLICA_READS``, on by
    default; the test suite turns it off except in the replica tests, whose data is
    committed before it is read)."""
    return REPLICA in settings.DATABASES and getattr(settings, "REPLICA_READS", True)


@contextmanager
def replica_reads() -> Iterator[str]:
    """Inside: ORM reads go to the replica when one is configured. Yields the alias
    reads use (for raw SQL: ``connections[alias]``)."""
    token = _replica_reads.set(True)
    try:
        yield REPLICA if replica_configured() else "default"
    finally:
        _replica_reads.reset(token)


def read_alias() -> str:
    """The alias a report read uses right now."""
    return REPLICA if _replica_reads.get() and replica_configured() else "default"


class ReplicaRouter:
    def db_for_read(self, model, **hints):
        if _replica_reads.get() and replica_configured():
            return REPLICA
        return "default"

    def db_for_write(self, model, **hints):
        return "default"

    def allow_relation(self, obj1, obj2, **hints):
        # Both aliases are the same database (one a streaming copy of the other).
        return True

    def allow_migrate(self, db, app_label, model_name=None, **hints):
        return db == "default"
