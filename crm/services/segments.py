from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import Exists, OuterRef

from audit.services import audit_record
from common import clock
from common.actors import Actor
from common.errors import ValidationFailed
from crm.exceptions import SegmentNameTaken
from crm.models import Segment, SegmentMembership
from crm.segments import segment_player_queryset, segment_rules_parse
from tenants.models import Tenant

REFRESH_BATCH = 5000


@dataclass(frozen=True)
class RefreshResult:
    segment_id: int
    added: int
    removed: int
    member_count: int


def segment_create(
    *,
    actor: Actor,
    tenant: Tenant,
    name: str,
    rules: Mapping[str, Any],
    description: str = "",
) -> Segment:
    segment_rules_parse(rules)  # SEGMENT_RULES_INVALID before anything is stored
    name = name.strip()
    if not name or len(name) > 100:
        raise ValidationFailed(details={"fields": {"name": ["1 to 100 characters"]}})
    with transaction.atomic(savepoint=False):
        try:
            with transaction.atomic():
                segment = Segment.objects.create(
                    tenant=tenant, name=name, rules=dict(rules), description=description
                )
        except IntegrityError as exc:
            raise SegmentNameTaken(details={"name": name}) from exc
        audit_record(
            actor=actor,
            action="crm.segment_created",
            tenant_id=tenant.pk,
            target=segment,
            after={"name": name, "rules": dict(rules)},
        )
    return segment


def segment_update(
    *,
    actor: Actor,
    segment: Segment,
    name: str | None = None,
    rules: Mapping[str, Any] | None = None,
    description: str | None = None,
) -> Segment:
    """Change a segment; its members stay those of the last refresh until the next."""
    if rules is not None:
        segment_rules_parse(rules)
    with transaction.atomic(savepoint=False):
        locked = Segment.objects.select_for_update().get(pk=segment.pk)
        before = {"name": locked.name, "rules": locked.rules}
        if name is not None:
            locked.name = name.strip()
        if rules is not None:
            locked.rules = dict(rules)
        if description is not None:
            locked.description = description
        try:
            with transaction.atomic():
                locked.save()
        except IntegrityError as exc:
            raise SegmentNameTaken(details={"name": locked.name}) from exc
        after = {"name": locked.name, "rules": locked.rules}
        if after != before:
            audit_record(
                actor=actor,
                action="crm.segment_updated",
                tenant_id=locked.tenant_id,
                target=locked,
                before=before,
                after=after,
            )
    return locked


def segment_refresh(
    *, segment: Segment, progress: Callable[[int], None] | None = None
) -> RefreshResult:
    """Recompute who is in the segment, in the database: members who no longer
    match leave in one DELETE, new ones are inserted in batches of player ids read
    from the rules' query. ``progress(n)`` is called after each batch."""
    spec = segment_rules_parse(segment.rules)
    now = clock.now()
    with transaction.atomic(savepoint=False):
        locked = Segment.objects.select_for_update().get(pk=segment.pk)
        matching = segment_player_queryset(
            tenant=locked.tenant, spec=spec, now=now
        ).values("pk")
        removed, _ = (
            SegmentMembership.objects.filter(segment=locked)
            .exclude(player_id__in=matching)
            .delete()
        )
        missing = (
            segment_player_queryset(tenant=locked.tenant, spec=spec, now=now)
            .exclude(
                Exists(
                    SegmentMembership.objects.filter(
                        segment=locked, player_id=OuterRef("pk")
                    )
                )
            )
            .order_by("pk")
            .values_list("pk", flat=True)
        )
        added = 0
        last = 0
        while True:
            batch = list(missing.filter(pk__gt=last)[:REFRESH_BATCH])
            if not batch:
                break
            last = batch[-1]
            SegmentMembership.objects.bulk_create(
                [
                    SegmentMembership(
                        tenant_id=locked.tenant_id, segment=locked, player_id=pk
                    )
                    for pk in batch
                ],
                ignore_conflicts=True,
            )
            added += len(batch)
            if progress is not None:
                progress(len(batch))
        locked.member_count = SegmentMembership.objects.filter(segment=locked).count()
        locked.refreshed_at = now
        locked.save(update_fields=["member_count", "refreshed_at"])
    return RefreshResult(locked.pk, added, removed, locked.member_count)
