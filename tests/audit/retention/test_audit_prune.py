"""Retention prunes old events and leaves the chain verifiable from a checkpoint."""

from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import call_command
from django.db import transaction
from django.utils import timezone

from audit.exceptions import AuditChainBroken
from audit.models import AuditCheckpoint, AuditEvent
from audit.retention import audit_prune
from audit.sealing import audit_seal_pending
from audit.verification import audit_chain_verify
from tests.audit.helpers import SYSTEM, events_write, tampering
from tests.factories import TenantFactory

pytestmark = pytest.mark.django_db


def history(clock, *, old: int, recent: int):
    """A tenant created 100 days ago (its ``tenant.created`` event, then ``old``
    events), and ``recent`` events written now: ``old + 1`` events to prune."""
    real_now = clock.now()
    clock.freeze(real_now - timedelta(days=100))
    tenant = TenantFactory()
    events = events_write(tenant_id=tenant.pk, count=old, prefix="old")
    clock.freeze(real_now)
    return tenant, events + events_write(
        tenant_id=tenant.pk, count=recent, prefix="new"
    )


def prune(*args) -> str:
    out = StringIO()
    call_command("audit_prune", *args, "--no-progress", stdout=out, stderr=StringIO())
    # What the command's commit would do: seal its audit.pruned event.
    audit_seal_pending()
    return out.getvalue()


def test_retention_is_off_by_default(clock, settings):
    tenant, _ = history(clock, old=3, recent=1)

    output = prune()

    assert settings.AUDIT_RETENTION_DAYS is None
    assert "retention is off" in output
    assert AuditEvent.objects.filter(tenant=tenant).count() == 5


def test_prune_deletes_old_events_and_the_chain_still_verifies(clock, settings):
    settings.AUDIT_RETENTION_DAYS = 30
    tenant, events = history(clock, old=5, recent=2)

    output = prune("--tenant", tenant.slug)

    assert f"{tenant.slug}: pruned 6 events" in output
    remaining = AuditEvent.objects.filter(tenant=tenant).order_by("seq")
    assert [e.action for e in remaining] == ["new.event", "new.event", "audit.pruned"]
    checkpoint = AuditCheckpoint.objects.get(tenant=tenant)
    assert (checkpoint.seq, checkpoint.hash) == (6, events[4].hash)
    assert checkpoint.events_pruned == 6
    pruned = remaining.last()
    assert pruned.after["through_seq"] == 6
    assert pruned.after["through_hash"] == events[4].hash
    report = audit_chain_verify(tenant=tenant)
    assert report.ok, report.broken
    assert (report.start_seq, report.events_checked) == (6, 3)


def test_prune_never_deletes_the_newest_event_so_writers_keep_their_head(
    clock, settings
):
    settings.AUDIT_RETENTION_DAYS = 30
    tenant, events = history(clock, old=3, recent=0)

    prune("--tenant", tenant.slug)
    events_write(tenant_id=tenant.pk, count=1)

    assert AuditEvent.objects.filter(pk=events[-1].pk).exists()
    assert audit_chain_verify(tenant=tenant).ok


def test_a_chain_pruned_twice_verifies_from_the_latest_checkpoint(clock, settings):
    tenant, _ = history(clock, old=3, recent=0)
    audit_prune(
        tenant_id=tenant.pk,
        older_than=timezone.now() - timedelta(days=30),
        actor=SYSTEM,
    )
    audit_seal_pending()
    clock.advance(seconds=3600)
    second = audit_prune(tenant_id=tenant.pk, older_than=clock.now(), actor=SYSTEM)

    assert second.events_pruned > 0
    assert AuditCheckpoint.objects.filter(tenant=tenant).count() == 2
    audit_seal_pending()
    assert audit_chain_verify(tenant=tenant).ok


def test_dry_run_deletes_nothing(clock, settings):
    settings.AUDIT_RETENTION_DAYS = 30
    tenant, _ = history(clock, old=4, recent=1)

    output = prune("--tenant", tenant.slug, "--dry-run")

    assert "would prune 5 events" in output
    assert AuditEvent.objects.filter(tenant=tenant).count() == 6
    assert not AuditCheckpoint.objects.filter(tenant=tenant).exists()


def test_prune_refuses_to_delete_a_tampered_prefix(clock, settings):
    tenant, events = history(clock, old=4, recent=1)
    with tampering() as rows:
        rows.filter(pk=events[1].pk).update(reason="edited")

    with pytest.raises(AuditChainBroken) as refused, transaction.atomic():
        audit_prune(
            tenant_id=tenant.pk,
            older_than=timezone.now() - timedelta(days=30),
            actor=SYSTEM,
        )

    assert refused.value.details["seq"] == events[1].seq
    assert AuditEvent.objects.filter(tenant=tenant).count() == 6
