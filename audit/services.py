from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from django.db import connections, models, router

from audit import chain, context
from audit.models import AuditCheckpoint, AuditEvent
from audit.redaction import redact
from audit.sealing import audit_seal_on_commit
from common import clock
from common.actors import Actor


def audit_record(
    *,
    actor: Actor,
    action: str,
    tenant_id: int | None,
    target: models.Model | None = None,
    target_type: str = "",
    target_id: str | int = "",
    before: Mapping[str, Any] | None = None,
    after: Mapping[str, Any] | None = None,
    reason: str = "",
) -> AuditEvent:
    """Write one audit row; ``before``/``after`` are redacted before storage.

    The row joins its tenant's hash chain (``audit/chain.py``): on PostgreSQL it is
    inserted unsealed and sealed right after the caller's transaction commits
    (``audit.sealing``; no lock is taken here); elsewhere it is linked here."""
    if target is not None:
        target_type = target._meta.label
        target_id = target.pk
    request = context.current()
    event = AuditEvent(
        tenant_id=tenant_id,
        actor_type=actor.type,
        actor_user_id=actor.user_id,
        actor_label=actor.label,
        action=action,
        target_type=target_type,
        target_id=str(target_id),
        before=redact(dict(before)) if before is not None else None,
        after=redact(dict(after)) if after is not None else None,
        reason=reason,
        request_id=request.request_id,
        ip=request.ip,
        # The policy clock: real time, unless a test froze it to write history.
        created_at=clock.now(),
    )
    if connections[router.db_for_write(AuditEvent)].vendor == "postgresql":
        event.save(force_insert=True)
        audit_seal_on_commit(tenant_id=tenant_id)
    else:
        _link_in_python(event)
        event.save(force_insert=True)
    return event


def _link_in_python(event: AuditEvent) -> None:
    """What the PostgreSQL sealer does, at insert, for databases without it (SQLite
    in development). SQLite serialises writers; a second writer that read the same
    head would be refused by the unique (tenant, seq) index, never fork the chain."""
    head = (
        AuditEvent.objects.filter(tenant_id=event.tenant_id, seq__isnull=False)
        .order_by("-seq")
        .values_list("seq", "hash")
        .first()
    )
    if head is None:
        head = (
            AuditCheckpoint.objects.filter(tenant_id=event.tenant_id)
            .order_by("-seq")
            .values_list("seq", "hash")
            .first()
        )
    seq, prev_hash = head or (0, chain.GENESIS_HASH)
    stored = {name: getattr(event, name) for name in chain.ChainFields.NAMES}
    # Hash the JSON as it will be read back, not the Python objects handed in.
    for name in ("before", "after"):
        stored[name] = json.loads(json.dumps(stored[name]))
    event.seq = seq + 1
    event.prev_hash = prev_hash
    event.hash = chain.event_digest(
        chain.ChainFields(**stored), seq=event.seq, prev_hash=prev_hash
    )


def model_snapshot(
    instance: models.Model, fields: list[str] | None = None
) -> dict[str, Any]:
    """A JSON-safe dict of a model's concrete fields, for before/after diffs."""
    data: dict[str, Any] = {}
    for field in instance._meta.concrete_fields:
        if fields is not None and field.name not in fields:
            continue
        value = field.value_from_object(instance)
        data[field.name] = (
            value
            if isinstance(value, (int, float, bool, type(None), list, dict))
            else str(value)
        )
    return data
