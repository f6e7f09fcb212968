"""Retention: prune a chain's oldest events and leave it verifiable.

``audit_prune`` deletes a prefix of one chain (every event up to the last one older
than the cutoff, never the chain's newest event) after verifying that prefix, and
records where the chain resumes as an ``AuditCheckpoint`` (the seq and hash of the
last pruned event). The verifier starts from the latest checkpoint; the prune itself
is an ``audit.pruned`` event in the same chain, naming the checkpoint, so a forged
checkpoint would need a forged chain after it too.

Off unless ``AUDIT_RETENTION_DAYS`` is set (``manage.py audit_prune`` reads it).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass

import pgtrigger
from django.db import transaction

from audit import chain
from audit.exceptions import AuditChainBroken
from audit.models import AuditCheckpoint, AuditEvent
from audit.services import audit_record
from audit.verification import audit_chain_start, link_problem
from common.actors import Actor

APPEND_ONLY = "audit.AuditEvent:audit_append_only"
DELETE_BATCH = 5000


@dataclass(frozen=True, slots=True)
class PruneResult:
    tenant_id: int | None
    events_pruned: int
    through_seq: int
    through_hash: str
    checkpoint: AuditCheckpoint | None


def audit_prune(
    *,
    tenant_id: int | None,
    older_than: dt.datetime,
    actor: Actor,
    dry_run: bool = False,
    progress: Callable[[int], None] | None = None,
) -> PruneResult:
    """Prune the chain of ``tenant_id`` (None: the platform chain) up to the last
    event created before ``older_than``. Refuses (``AUDIT_CHAIN_BROKEN``) if the
    part to prune does not verify: evidence of tampering is never deleted.

    Needs no chain lock: it never deletes the chain's newest event, the only one
    writers read."""
    with transaction.atomic(savepoint=False):
        start_seq, start_hash = audit_chain_start(tenant_id=tenant_id)
        through_seq, through_hash = _prunable_prefix(
            tenant_id=tenant_id,
            start_seq=start_seq,
            start_hash=start_hash,
            older_than=older_than,
        )
        count = through_seq - start_seq
        if dry_run or count == 0:
            return PruneResult(tenant_id, count, through_seq, through_hash, None)
        events = AuditEvent.objects.filter(tenant_id=tenant_id)
        with pgtrigger.ignore(APPEND_ONLY):
            for low in range(start_seq, through_seq, DELETE_BATCH):
                high = min(low + DELETE_BATCH, through_seq)
                events.filter(seq__gt=low, seq__lte=high).delete()
                if progress is not None:
                    progress(high - low)
        checkpoint = AuditCheckpoint.objects.create(
            tenant_id=tenant_id,
            seq=through_seq,
            hash=through_hash,
            pruned_before=older_than,
            events_pruned=count,
        )
        audit_record(
            actor=actor,
            action="audit.pruned",
            tenant_id=tenant_id,
            target=checkpoint,
            after={
                "through_seq": through_seq,
                "through_hash": through_hash,
                "events_pruned": count,
                "older_than": older_than.isoformat(),
            },
        )
    return PruneResult(tenant_id, count, through_seq, through_hash, checkpoint)


def _prunable_prefix(
    *, tenant_id: int | None, start_seq: int, start_hash: str, older_than: dt.datetime
) -> tuple[int, str]:
    """(seq, hash) of the last event to prune, verifying every link up to it."""
    head = (
        AuditEvent.objects.filter(tenant_id=tenant_id, seq__isnull=False)
        .order_by("-seq")
        .values_list("seq", flat=True)
        .first()
    )
    if head is None:
        return start_seq, start_hash
    rows = (
        AuditEvent.objects.filter(tenant_id=tenant_id, seq__gt=start_seq, seq__lt=head)
        .order_by("seq")
        .values_list("id", "seq", "prev_hash", "hash", *chain.ChainFields.NAMES)
    )
    seq, prev_hash = start_seq, start_hash
    for row in rows.iterator(chunk_size=2000):
        event_id, event_seq, event_prev, event_hash, *values = row
        fields = chain.ChainFields(*values)
        if fields.created_at >= older_than:
            break
        broken = link_problem(
            event_id=event_id,
            expected_seq=seq + 1,
            expected_prev=prev_hash,
            event_seq=event_seq,
            event_prev=event_prev,
            event_hash=event_hash,
            fields=fields,
        )
        if broken is not None:
            raise AuditChainBroken(
                details={
                    "tenant_id": tenant_id,
                    "seq": broken.seq,
                    "event_id": broken.event_id,
                    "problem": broken.problem,
                }
            )
        seq, prev_hash = event_seq, event_hash
    return seq, prev_hash
