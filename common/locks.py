"""Advisory locks: one worker at a time for a piece of outside work (a PSP call)
that must not run under a row lock.

On PostgreSQL a session-level ``pg_advisory_lock`` on a key derived from a name; it
is held outside any transaction, so no row is locked while the PSP is called, and
it is released when the block ends (or the connection closes). Elsewhere (SQLite,
one writer at a time anyway) it is a no-op.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from contextlib import contextmanager

from django.db import connection


def _key(name: str) -> int:
    digest = hashlib.blake2b(name.encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big", signed=True)


@contextmanager
def advisory_lock(name: str) -> Iterator[None]:
    """Wait for and hold the lock called ``name`` for the block."""
    if connection.vendor != "postgresql":
        yield
        return
    key = _key(name)
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_lock(%s)", [key])
    try:
        yield
    finally:
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_unlock(%s)", [key])
