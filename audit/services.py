from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from django.db import models

from audit import context
from audit.models import AuditEvent
from audit.redaction import redact
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
    """Write one audit row; ``before``/``after`` are redacted before storage."""
    if target is not None:
        target_type = target._meta.label
        target_id = target.pk
    request = context.current()
    return AuditEvent.objects.create(
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
