"""``audit_verify`` finds the first broken link of a chain: an edited, a deleted or a
re-sequenced event. The tampering bypasses the append-only trigger for the test's own
statements (``tests/audit/helpers.tampering``), as an attacker with database access
could; on SQLite there is no trigger to bypass."""

from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from audit import chain
from audit.models import AuditEvent
from audit.verification import audit_chain_verify
from tests.audit.helpers import events_write, tampering
from tests.factories import TenantFactory

pytestmark = pytest.mark.django_db


def verify_command(*args) -> str:
    out = StringIO()
    call_command("audit_verify", *args, "--no-progress", stdout=out, stderr=StringIO())
    return out.getvalue()


def test_untouched_chain_verifies_and_reports_its_head():
    tenant = TenantFactory()
    events = events_write(tenant_id=tenant.pk, count=5)

    output = verify_command("--tenant", tenant.slug)

    assert f"{tenant.slug}: OK, {events[-1].seq} events" in output
    assert f"head seq {events[-1].seq} hash {events[-1].hash}" in output


def test_edited_event_is_reported_with_expected_and_found_hash():
    tenant = TenantFactory()
    events = events_write(tenant_id=tenant.pk, count=5)
    with tampering() as rows:
        rows.filter(pk=events[2].pk).update(after={"number": 2, "note": "rewritten"})

    with pytest.raises(CommandError, match="audit chain broken"):
        verify_command("--tenant", tenant.slug)
    report = audit_chain_verify(tenant=tenant)

    assert report.broken.seq == events[2].seq
    assert report.broken.event_id == events[2].pk
    assert report.broken.problem == "hash"
    assert report.broken.found == events[2].hash
    assert report.events_checked == events[2].seq - 1


def test_edit_with_a_recomputed_hash_breaks_the_next_link():
    tenant = TenantFactory()
    events = events_write(tenant_id=tenant.pk, count=4)
    forged = AuditEvent.objects.get(pk=events[1].pk)
    forged.reason = "nothing happened"
    forged_hash = chain.event_digest(
        chain.ChainFields(*(getattr(forged, n) for n in chain.ChainFields.NAMES)),
        seq=forged.seq,
        prev_hash=forged.prev_hash,
    )
    with tampering() as rows:
        rows.filter(pk=forged.pk).update(reason=forged.reason, hash=forged_hash)

    report = audit_chain_verify(tenant=tenant)

    assert (report.broken.seq, report.broken.problem) == (events[2].seq, "prev_hash")
    assert report.broken.expected == forged_hash
    assert report.broken.found == events[1].hash


def test_deleted_event_is_reported_as_a_gap():
    tenant = TenantFactory()
    events = events_write(tenant_id=tenant.pk, count=5)
    with tampering() as rows:
        rows.filter(pk=events[1].pk).delete()

    report = audit_chain_verify(tenant=tenant)

    assert report.broken.problem == "seq"
    assert report.broken.expected == str(events[1].seq)
    assert report.broken.found == str(events[2].seq)
    assert report.broken.event_id == events[2].pk


def test_resequenced_events_are_reported():
    tenant = TenantFactory()
    events = events_write(tenant_id=tenant.pk, count=5)
    second, third = events[1].seq, events[2].seq
    # Swap the positions of two events (via a free number: seq is unique).
    with tampering() as rows:
        rows.filter(pk=events[1].pk).update(seq=1000)
        rows.filter(pk=events[2].pk).update(seq=second)
        rows.filter(pk=events[1].pk).update(seq=third)

    report = audit_chain_verify(tenant=tenant)

    assert report.broken.seq == second
    assert report.broken.event_id == events[2].pk
    assert report.broken.problem == "prev_hash"


def test_a_broken_tenant_does_not_hide_behind_healthy_ones():
    healthy, broken = TenantFactory(), TenantFactory()
    events_write(tenant_id=healthy.pk, count=2)
    events = events_write(tenant_id=broken.pk, count=2)
    with tampering() as rows:
        rows.filter(pk=events[0].pk).update(action="test.other")

    out = StringIO()
    with pytest.raises(CommandError, match=broken.slug):
        call_command("audit_verify", "--no-progress", stdout=out, stderr=StringIO())

    assert f"{healthy.slug}: OK" in out.getvalue()
    assert f"{broken.slug}: BROKEN broken at seq {events[0].seq}" in out.getvalue()


def test_platform_chain_is_verified_on_its_own():
    events_write(tenant_id=None, count=3)

    output = verify_command("--tenant", "platform")

    assert "platform: OK" in output


def test_unknown_tenant_is_refused():
    with pytest.raises(CommandError, match="No tenant"):
        verify_command("--tenant", "nope")


def test_recorded_head_detects_a_chain_cut_off_at_its_end():
    tenant = TenantFactory()
    events = events_write(tenant_id=tenant.pk, count=4)
    recorded = f"{events[-1].seq}:{events[-1].hash}"
    with tampering() as rows:
        rows.filter(pk__in=[events[-1].pk, events[-2].pk]).delete()

    still_consistent = verify_command("--tenant", tenant.slug)
    out = StringIO()
    with pytest.raises(CommandError, match="audit chain broken"):
        call_command(
            "audit_verify",
            "--tenant",
            tenant.slug,
            "--expect-head",
            recorded,
            "--no-progress",
            stdout=out,
            stderr=StringIO(),
        )

    assert f"{tenant.slug}: OK" in still_consistent
    assert "missing: the chain was cut off" in out.getvalue()


def test_recorded_head_still_in_the_chain_passes():
    tenant = TenantFactory()
    events = events_write(tenant_id=tenant.pk, count=2)
    recorded = f"{events[-1].seq}:{events[-1].hash}"
    events_write(tenant_id=tenant.pk, count=2)

    output = verify_command("--tenant", tenant.slug, "--expect-head", recorded)

    assert f"{tenant.slug}: OK" in output
