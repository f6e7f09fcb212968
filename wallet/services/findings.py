"""Reconciliation findings: one row per discrepancy, whichever command found it.

A finding is identified by ``(tenant, code, object_type, object_ref)``. Recording it
again (the next cron run, a re-imported file) updates the same row: ``last_seen_at``,
``times_seen``, the latest details. A *resolved* finding that is seen again was not
really fixed, so it opens again (audited); a *dismissed* one stays dismissed (an
operator decided it is acceptable) but its sightings are still counted.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import F

from audit.services import audit_record
from common import clock
from common.actors import Actor
from common.errors import IllegalStateTransition
from wallet.exceptions import FindingReasonRequired
from wallet.models import Finding


@dataclass(frozen=True, slots=True)
class FindingSpec:
    """What a check found, before it is stored."""

    tenant_id: int
    code: str
    severity: str
    object_type: str
    object_ref: str
    details: Mapping[str, Any]


def finding_record(*, spec: FindingSpec, source: str) -> tuple[Finding, bool]:
    """Store ``spec`` as a new finding or a new sighting of the same one.
    Returns ``(finding, created)``. Locks the finding's row."""
    now = clock.now()
    identity = {
        "tenant_id": spec.tenant_id,
        "code": spec.code,
        "object_type": spec.object_type,
        "object_ref": str(spec.object_ref),
    }
    with transaction.atomic(savepoint=False):
        finding = (
            Finding.objects.select_for_update(no_key=True).filter(**identity).first()
        )
        if finding is None:
            try:
                with transaction.atomic():  # a concurrent run may insert it first
                    finding = Finding.objects.create(
                        **identity,
                        severity=spec.severity,
                        source=source,
                        details=dict(spec.details),
                        first_seen_at=now,
                        last_seen_at=now,
                    )
                return finding, True
            except IntegrityError:
                finding = Finding.objects.select_for_update(no_key=True).get(**identity)
        reopened = finding.status == Finding.Status.RESOLVED
        Finding.objects.filter(pk=finding.pk).update(
            last_seen_at=now,
            times_seen=F("times_seen") + 1,
            details=dict(spec.details),
            severity=spec.severity,
            source=source,
            **(
                {"status": Finding.Status.OPEN, "resolved_at": None} if reopened else {}
            ),
        )
        if reopened:
            audit_record(
                actor=Actor.system(source),
                action="finding.reopened",
                tenant_id=spec.tenant_id,
                target=finding,
                before={"status": Finding.Status.RESOLVED},
                after={"status": Finding.Status.OPEN},
                reason="seen again after it was resolved",
            )
        finding.refresh_from_db()
        return finding, False


def findings_record(*, specs: Iterable[FindingSpec], source: str) -> tuple[int, int]:
    """Record many; returns ``(new, seen_again)``."""
    new = again = 0
    for spec in specs:
        _, created = finding_record(spec=spec, source=source)
        new += created
        again += not created
    return new, again


def _close(*, finding: Finding, actor: Actor, reason: str, status: str) -> Finding:
    reason = (reason or "").strip()
    if not reason:
        raise FindingReasonRequired()
    with transaction.atomic(savepoint=False):
        locked = Finding.objects.select_for_update(no_key=True).get(pk=finding.pk)
        if locked.status != Finding.Status.OPEN:
            raise IllegalStateTransition(
                entity="finding", from_state=locked.status, to_state=status
            )
        locked.status = status
        locked.resolved_at = clock.now()
        locked.resolved_by_id = actor.user_id
        locked.resolution_reason = reason
        locked.save(
            update_fields=["status", "resolved_at", "resolved_by", "resolution_reason"]
        )
        audit_record(
            actor=actor,
            action=f"finding.{status}",
            tenant_id=locked.tenant_id,
            target=locked,
            before={"status": Finding.Status.OPEN},
            after={"status": status, "code": locked.code},
            reason=reason,
        )
    return locked


def finding_resolve(*, finding: Finding, actor: Actor, reason: str) -> Finding:
    """The discrepancy was fixed (a webhook reprocessed, a booking corrected)."""
    return _close(
        finding=finding, actor=actor, reason=reason, status=Finding.Status.RESOLVED
    )


def finding_dismiss(*, finding: Finding, actor: Actor, reason: str) -> Finding:
    """The discrepancy is accepted as it is (a known PSP quirk, a test payment)."""
    return _close(
        finding=finding, actor=actor, reason=reason, status=Finding.Status.DISMISSED
    )


def findings_record_bulk(
    *, specs: Sequence[FindingSpec], source: str
) -> tuple[int, int]:
    """``findings_record`` for many at once (a settlement file's chunk): one query to
    find the ones already known, one insert for the new ones, one update for the
    sightings. Returns ``(new, seen_again)``. Resolved ones seen again open again,
    audited one by one (there are few)."""
    if not specs:
        return 0, 0
    now = clock.now()
    unique: dict[tuple, FindingSpec] = {}
    for spec in specs:
        unique[(spec.tenant_id, spec.code, spec.object_type, str(spec.object_ref))] = (
            spec
        )
    with transaction.atomic(savepoint=False):
        known: dict[tuple, tuple[int, str]] = {}
        for tenant_id in {key[0] for key in unique}:
            refs = {key[3] for key in unique if key[0] == tenant_id}
            for pk, code, object_type, object_ref, status in Finding.objects.filter(
                tenant_id=tenant_id, object_ref__in=refs
            ).values_list("pk", "code", "object_type", "object_ref", "status"):
                known[(tenant_id, code, object_type, object_ref)] = (pk, status)
        fresh = [
            Finding(
                tenant_id=spec.tenant_id,
                code=spec.code,
                severity=spec.severity,
                source=source,
                object_type=spec.object_type,
                object_ref=str(spec.object_ref),
                details=dict(spec.details),
                first_seen_at=now,
                last_seen_at=now,
            )
            for key, spec in unique.items()
            if key not in known
        ]
        # A concurrent import may insert the same finding first: skip it then.
        Finding.objects.bulk_create(fresh, ignore_conflicts=True, batch_size=1000)
        seen = [pk for pk, _ in known.values()]
        Finding.objects.filter(pk__in=seen).update(
            last_seen_at=now, times_seen=F("times_seen") + 1
        )
        for key, (pk, status) in known.items():
            if status == Finding.Status.RESOLVED:
                Finding.objects.filter(pk=pk).update(
                    status=Finding.Status.OPEN, resolved_at=None
                )
                audit_record(
                    actor=Actor.system(source),
                    action="finding.reopened",
                    tenant_id=key[0],
                    target_type="wallet.Finding",
                    target_id=pk,
                    before={"status": Finding.Status.RESOLVED},
                    after={"status": Finding.Status.OPEN},
                    reason="seen again after it was resolved",
                )
    return len(fresh), len(known)
