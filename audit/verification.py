"""Walking a hash chain: ``audit_chain_verify(*, tenant)``.

Reusable by ``manage.py audit_verify``, reconciliation and whole-system simulations.
It recomputes every hash in Python (``audit/chain.py``), never trusting the
database's own trigger, and streams the chain in ``seq`` order with a server-side
cursor, so memory stays constant however long the chain is.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from audit import chain
from audit.models import AuditCheckpoint, AuditEvent
from audit.sealing import audit_backlog
from common import clock

CHUNK = 2000


@dataclass(frozen=True, slots=True)
class ChainBreak:
    """The first link that does not hold.

    ``problem`` is ``"seq"`` (an event is missing, or was re-numbered: the next
    event does not carry the expected number), ``"prev_hash"`` (the event does not
    point at its predecessor's hash: reordered, or the predecessor was replaced) or
    ``"hash"`` (the event's content no longer matches its own hash: edited)."""

    seq: int
    event_id: int
    problem: str
    expected: str
    found: str

    def describe(self) -> str:
        return (
            f"broken at seq {self.seq} (event id {self.event_id}): {self.problem} "
            f"expected {self.expected}, found {self.found}"
        )


@dataclass(frozen=True, slots=True)
class ChainReport:
    tenant_id: int | None
    #: Where the walk started: 0 and the genesis hash, or the latest checkpoint.
    start_seq: int
    events_checked: int
    #: The last verified event (or the start when the chain is empty).
    head_seq: int
    head_hash: str
    broken: ChainBreak | None
    #: Committed events not sealed yet (PostgreSQL seals after commit): not part of
    #: the verified chain until sealed. ``oldest_unsealed_at``: the oldest one's time.
    unsealed: int = 0
    oldest_unsealed_at: dt.datetime | None = None

    def unsealed_age_seconds(self, now: dt.datetime | None = None) -> float:
        if self.oldest_unsealed_at is None:
            return 0.0
        elapsed = (now or clock.now()) - self.oldest_unsealed_at
        return max(elapsed.total_seconds(), 0.0)

    @property
    def ok(self) -> bool:
        return self.broken is None


def audit_chain_start(*, tenant_id: int | None) -> tuple[int, str]:
    """(seq, hash) the chain of ``tenant_id`` continues from: the latest
    retention checkpoint, else the genesis."""
    checkpoint = (
        AuditCheckpoint.objects.filter(tenant_id=tenant_id)
        .order_by("-seq")
        .values_list("seq", "hash")
        .first()
    )
    return checkpoint or (0, chain.GENESIS_HASH)


def audit_chain_length(*, tenant_id: int | None) -> int:
    """Events to walk from the start (one index lookup, no COUNT)."""
    start_seq, _ = audit_chain_start(tenant_id=tenant_id)
    head = (
        AuditEvent.objects.filter(tenant_id=tenant_id, seq__isnull=False)
        .order_by("-seq")
        .values_list("seq", flat=True)
        .first()
    )
    return max((head or start_seq) - start_seq, 0)


def audit_chain_verify(
    *,
    tenant: Any | None,
    progress: Callable[[int], None] | None = None,
) -> ChainReport:
    """Walk the chain of ``tenant`` (a Tenant, or None for the platform chain of
    events without a tenant) and report the first broken link, and how many events
    wait to be sealed (they are not in the chain yet, so not verified).

    ``progress(n)`` is called after every ``n`` events (for a progress bar)."""
    tenant_id = tenant.pk if tenant is not None else None
    # Counted first: an event sealed during the walk is then at worst verified
    # and counted as pending, never in neither.
    backlog = audit_backlog(tenant_id=tenant_id)
    pending = (backlog.count, backlog.oldest_at)
    start_seq, start_hash = audit_chain_start(tenant_id=tenant_id)
    seq, prev_hash = start_seq, start_hash
    checked = 0
    rows = (
        AuditEvent.objects.filter(tenant_id=tenant_id, seq__gt=start_seq)
        .order_by("seq")
        .values_list("id", "seq", "prev_hash", "hash", *chain.ChainFields.NAMES)
    )
    for row in rows.iterator(chunk_size=CHUNK):
        event_id, event_seq, event_prev, event_hash, *values = row
        broken = link_problem(
            event_id=event_id,
            expected_seq=seq + 1,
            expected_prev=prev_hash,
            event_seq=event_seq,
            event_prev=event_prev,
            event_hash=event_hash,
            fields=chain.ChainFields(*values),
        )
        if broken is not None:
            return ChainReport(
                tenant_id, start_seq, checked, seq, prev_hash, broken, *pending
            )
        seq, prev_hash = event_seq, event_hash
        checked += 1
        if progress is not None and checked % CHUNK == 0:
            progress(CHUNK)
    if progress is not None and checked % CHUNK:
        progress(checked % CHUNK)
    return ChainReport(tenant_id, start_seq, checked, seq, prev_hash, None, *pending)


def link_problem(
    *,
    event_id: int,
    expected_seq: int,
    expected_prev: str,
    event_seq: int,
    event_prev: str,
    event_hash: str,
    fields: chain.ChainFields,
) -> ChainBreak | None:
    """The problem with one event given what its predecessor left, if any."""
    if event_seq != expected_seq:
        return ChainBreak(
            expected_seq, event_id, "seq", str(expected_seq), str(event_seq)
        )
    if event_prev != expected_prev:
        return ChainBreak(event_seq, event_id, "prev_hash", expected_prev, event_prev)
    digest = chain.event_digest(fields, seq=event_seq, prev_hash=event_prev)
    if digest != event_hash:
        return ChainBreak(event_seq, event_id, "hash", digest, event_hash)
    return None


def audit_chain_head_check(*, tenant: Any | None, seq: int, hash: str) -> str | None:
    """Compare a head recorded earlier (outside the database) with the chain now.

    A chain only proves itself consistent: cutting off its newest events, or
    rebuilding it whole, leaves it consistent. An event recorded as ``(seq, hash)``
    must still be in the chain with that hash. Returns what is wrong, or None.
    Call it after ``audit_chain_verify`` found the chain unbroken."""
    tenant_id = tenant.pk if tenant is not None else None
    start_seq, start_hash = audit_chain_start(tenant_id=tenant_id)
    if seq == start_seq:
        found = start_hash
    elif seq < start_seq:
        return None  # pruned since: a checkpoint further on vouches for it
    else:
        found = (
            AuditEvent.objects.filter(tenant_id=tenant_id, seq=seq)
            .values_list("hash", flat=True)
            .first()
        )
    if found is None:
        return f"recorded head seq {seq} is missing: the chain was cut off"
    if found != hash:
        return (
            f"recorded head seq {seq} had hash {hash}, the chain now has {found}: "
            "the chain was rewritten"
        )
    return None
