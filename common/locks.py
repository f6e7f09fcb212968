"""Advisory locks: one worker at a time for a piece of outside work (a PSP call)
that must not run under a row lock.

On PostgreSQL a transaction-level ``pg_advisory_xact_lock`` on a key derived from a
name: the block runs in one transaction that holds the lock (no row is locked while
the PSP is called) and commits at the end, which releases it. A session-level lock
is not safe behind PgBouncer in transaction mode: its unlock can reach another
server connection, and the lock then stays held there for ever (found by the CI
pass through PgBouncer: concurrent deposit starts hung). Writes inside the block
commit with it, so whoever waited finds them. Elsewhere (SQLite, one writer at a
time anyway) it is a plain transaction.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from contextlib import contextmanager

from django.db import connection, transaction


def _key(name: str) -> int:
    digest = hashlib.blake2b(name.encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big", signed=True)


@contextmanager
def advisory_lock(name: str) -> Iterator[None]:
    """Wait for and hold the lock called ``name`` for the block, which is one
    transaction (an exception rolls it back)."""
    with transaction.atomic():
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_advisory_xact_lock(%s)", [_key(name)])
        yield
