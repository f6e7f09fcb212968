"""Sealing: linking committed audit events into their tenant's hash chain.

On PostgreSQL events are inserted unlinked, without any lock, so concurrent postings
of one brand never wait for each other's commit. A sealer links them afterwards in
its own short transaction (``audit_chain_seal`` in ``audit/sql.py``: the chain's
advisory lock, the head, the unsealed events in id order, their hashes computed in
the database, one round trip). Chain order is sealing order.

It runs

- right after the commit of a transaction that wrote events: ``audit_record`` and
  the ledger's posting services call ``audit_seal_on_commit`` (at most once per
  ``AUDIT_SEAL_INTERVAL_SECONDS`` per chain and process, so a busy brand is sealed in
  batches; skipped when another sealer of the chain is at work, never queueing);
- from ``audit_seal_pending`` (``manage.py audit_seal``; a periodic task or cron job),
  which seals whatever a crash or a failed seal left behind.

On SQLite (development) ``audit_record`` links each event at insert instead (SQLite
serialises writers), so there is never anything to seal.
"""

from __future__ import annotations

import datetime as dt
import math
import time
from collections.abc import Callable
from dataclasses import dataclass

from django.conf import settings
from django.db import DEFAULT_DB_ALIAS, connections, transaction
from django.db.models import Count, Min

from audit.models import AuditEvent
from common import clock

#: Events one seal transaction links at most (a sweep calls again until done).
SEAL_BATCH = 5000


def audit_chain_seal(
    *, tenant_id: int | None, limit: int = SEAL_BATCH, wait: bool = True
) -> int:
    """Seal the committed, unsealed events of one chain (``tenant_id`` None: the
    platform chain) in id order; returns how many were sealed (at most ``limit``).

    ``wait=False``: when another sealer holds the chain's lock, return 0 at once
    instead of queueing behind it (that sealer, the next one or the sweep seals).

    Outside a transaction (the normal case: after a commit) the call is its own
    one-statement transaction, one round trip; inside one it joins it and holds the
    chain's lock until that commits."""
    wrapper = connections[DEFAULT_DB_ALIAS]
    if wrapper.vendor != "postgresql":
        return 0  # linked at insert
    with wrapper.cursor() as cursor:
        cursor.execute("SELECT audit_chain_seal(%s, %s, %s)", [tenant_id, limit, wait])
        return cursor.fetchone()[0] or 0


#: Monotonic time of this process's last after-commit seal, per chain.
_last_seal: dict[int | None, float] = {}


def _seal_due(tenant_id: int | None) -> bool:
    interval = settings.AUDIT_SEAL_INTERVAL_SECONDS
    return not interval or (
        time.monotonic() - _last_seal.get(tenant_id, -math.inf) >= interval
    )


class _SealAfterCommit:
    """One on-commit callback per chain and transaction (a transaction that writes
    many events of a brand seals them with one call)."""

    def __init__(self, tenant_id: int | None):
        self.audit_seal_tenant_id = tenant_id

    def __call__(self) -> None:
        tenant_id = self.audit_seal_tenant_id
        if not _seal_due(tenant_id):
            return  # another commit of this process sealed the chain just now
        _last_seal[tenant_id] = time.monotonic()
        audit_chain_seal(tenant_id=tenant_id, wait=False)


def audit_seal_on_commit(*, tenant_id: int | None) -> None:
    """Seal the chain of ``tenant_id`` once the current transaction commits (at
    once in autocommit).

    Skipped when this process sealed the chain less than
    ``AUDIT_SEAL_INTERVAL_SECONDS`` ago (a busy brand is sealed in batches, not once
    per posting) or another sealer of the chain is at work (never queueing); the next
    commit's seal or the ``audit_seal`` sweep links the event then. A failing seal is
    logged, never raised into the caller whose work is already committed."""
    wrapper = connections[DEFAULT_DB_ALIAS]
    if wrapper.vendor != "postgresql" or not _seal_due(tenant_id):
        return
    for _savepoints, callback, _robust in wrapper.run_on_commit:
        if getattr(callback, "audit_seal_tenant_id", ...) == tenant_id:
            return
    transaction.on_commit(_SealAfterCommit(tenant_id), robust=True)


@dataclass(frozen=True, slots=True)
class Backlog:
    """The unsealed events of one chain."""

    tenant_id: int | None
    count: int
    oldest_at: dt.datetime | None

    def age_seconds(self, now: dt.datetime | None = None) -> float:
        if self.oldest_at is None:
            return 0.0
        return max(((now or clock.now()) - self.oldest_at).total_seconds(), 0.0)


def audit_unsealed_tenants() -> list[int | None]:
    """The chains with unsealed events (read from the small partial index)."""
    return list(
        AuditEvent.objects.filter(seq__isnull=True)
        .order_by()
        .values_list("tenant_id", flat=True)
        .distinct()
    )


def audit_backlog(*, tenant_id: int | None) -> Backlog:
    """How many events of a chain are not sealed yet, and when the oldest was
    written."""
    found = AuditEvent.objects.filter(tenant_id=tenant_id, seq__isnull=True).aggregate(
        count=Count("id"), oldest_at=Min("created_at")
    )
    return Backlog(tenant_id, found["count"], found["oldest_at"])


def audit_seal_pending(
    *,
    tenant_id: int | None = ...,  # type: ignore[assignment]
    progress: Callable[[int], None] | None = None,
) -> dict[int | None, int]:
    """Seal everything pending (or only the chain of ``tenant_id``), a batch per
    transaction; returns the events sealed per chain. A plain function: schedule it
    from Celery beat or cron (``manage.py audit_seal``)."""
    chains = audit_unsealed_tenants() if tenant_id is ... else [tenant_id]
    sealed: dict[int | None, int] = {}
    for chain_tenant in chains:
        total = 0
        while True:
            count = audit_chain_seal(tenant_id=chain_tenant)
            total += count
            if progress is not None and count:
                progress(count)
            if count < SEAL_BATCH:
                break
        sealed[chain_tenant] = total
    return sealed
