"""PostgreSQL seals events after commit: inserted unlinked and without a lock, linked
by ``audit_chain_seal`` in sealing order; the append-only trigger allows exactly that
one update; events waiting to be sealed are reported, never silently verified."""

import io
import threading
from datetime import timedelta

import pytest
from django.core.management import CommandError, call_command
from django.db import DatabaseError, connection, transaction

from audit import context
from audit.models import AuditEvent
from audit.sealing import audit_backlog, audit_chain_seal, audit_seal_pending
from audit.services import audit_record
from audit.verification import audit_chain_verify
from tests.audit.helpers import SYSTEM, events_write
from tests.factories import PlayerFactory, TenantFactory, fund

pytestmark = pytest.mark.postgres


def chain_of(tenant) -> list[tuple[int, int]]:
    """[(seq, id)] of the tenant's sealed events, in chain order."""
    return list(
        AuditEvent.objects.filter(tenant=tenant, seq__isnull=False)
        .order_by("seq")
        .values_list("seq", "id")
    )


def raw_update(sql: str, params: list) -> None:
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(sql, params)


@pytest.mark.django_db
def test_events_are_inserted_unsealed_and_sealed_in_id_order():
    tenant = TenantFactory()
    events = [
        audit_record(actor=SYSTEM, action="t", tenant_id=tenant.pk) for _ in range(3)
    ]
    stored = AuditEvent.objects.filter(pk__in=[e.pk for e in events])
    assert set(stored.values_list("seq", "prev_hash", "hash")) == {(None, None, None)}

    sealed = audit_chain_seal(tenant_id=tenant.pk)

    assert sealed == 4  # tenant.created and the three
    assert [pk for _, pk in chain_of(tenant)] == sorted(
        pk for _, pk in chain_of(tenant)
    )
    assert [seq for seq, _ in chain_of(tenant)] == [1, 2, 3, 4]
    assert audit_chain_seal(tenant_id=tenant.pk) == 0
    report = audit_chain_verify(tenant=tenant)
    assert report.ok, report.broken
    assert (report.events_checked, report.unsealed) == (4, 0)


@pytest.mark.django_db
@pytest.mark.parametrize("ip", ["127.0.0.1", "2001:db8::1"])
def test_an_event_with_the_clients_ip_seals_into_a_chain_that_verifies(ip):
    """The sealer hashed ``inet::text`` ("127.0.0.1/32") where the verifier hashes
    the stored address ("127.0.0.1"): every event written while serving a request
    (a webhook, the API, the admin) broke the chain it was sealed into."""
    tenant = TenantFactory()
    token = context.bind(context.RequestContext(request_id="req-1", ip=ip))
    try:
        audit_record(actor=SYSTEM, action="t", tenant_id=tenant.pk)
    finally:
        context.reset(token)
    audit_chain_seal(tenant_id=tenant.pk)
    report = audit_chain_verify(tenant=tenant)
    assert report.ok, report.broken
    assert report.events_checked == 2  # tenant.created and the one with the IP


@pytest.mark.django_db
def test_append_only_triggers_allow_the_seal_and_nothing_else():
    tenant = TenantFactory()
    event = audit_record(actor=SYSTEM, action="t", tenant_id=tenant.pk)
    other = audit_record(actor=SYSTEM, action="t", tenant_id=tenant.pk)
    seal = "UPDATE audit_auditevent SET seq = %s, prev_hash = %s, hash = %s"
    refused = pytest.raises(DatabaseError, match="Cannot (update|delete) rows")

    # Sealing and changing a payload column in the same update.
    with refused:
        raw_update(seal + ", action = 'forged' WHERE id = %s", [7, "a", "b", event.pk])
    # Only part of the seal.
    with refused:
        raw_update("UPDATE audit_auditevent SET seq = 7 WHERE id = %s", [event.pk])
    # A payload column of an unsealed event.
    with refused:
        raw_update("UPDATE audit_auditevent SET reason = 'x' WHERE id = %s", [event.pk])
    # The seal itself (what audit_chain_seal does) is allowed.
    raw_update(seal + " WHERE id = %s", [7, "a" * 64, "b" * 64, event.pk])
    event.refresh_from_db()
    assert (event.seq, event.prev_hash, event.hash) == (7, "a" * 64, "b" * 64)
    # Re-sealing (or re-numbering) a sealed event.
    with refused:
        raw_update(seal + " WHERE id = %s", [8, "a" * 64, "c" * 64, event.pk])
    with refused:
        raw_update("UPDATE audit_auditevent SET seq = 9 WHERE id = %s", [event.pk])
    # Un-sealing it.
    with refused:
        raw_update(seal + " WHERE id = %s", [None, None, None, event.pk])
    # Deleting a sealed or an unsealed event.
    for pk in (event.pk, other.pk):
        with refused:
            raw_update("DELETE FROM audit_auditevent WHERE id = %s", [pk])
    event.refresh_from_db()
    assert (event.seq, event.hash, event.action) == (7, "b" * 64, "t")


@pytest.mark.django_db(transaction=True)
def test_events_are_sealed_right_after_their_transaction_commits():
    tenant = TenantFactory()
    player = PlayerFactory(tenant=tenant)

    with transaction.atomic(durable=True):
        event = audit_record(actor=SYSTEM, action="op", tenant_id=tenant.pk)
        audit_record(actor=SYSTEM, action="op", tenant_id=tenant.pk)
        event.refresh_from_db()
        assert event.seq is None  # not before the commit
    fund(player, 500)  # the ledger's SQL path, in autocommit

    assert audit_backlog(tenant_id=tenant.pk).count == 0
    posted = AuditEvent.objects.get(tenant=tenant, action="ledger.transaction_posted")
    assert posted.seq is not None
    report = audit_chain_verify(tenant=tenant)
    assert report.ok, report.broken
    assert report.head_seq == AuditEvent.objects.filter(tenant=tenant).count()


@pytest.mark.django_db(transaction=True)
def test_chain_order_is_commit_order_a_late_committing_event_gets_a_later_seq():
    tenant = TenantFactory()
    inserted, release = threading.Event(), threading.Event()
    late: list[AuditEvent] = []

    def slow_writer():
        try:
            with transaction.atomic(durable=True):
                late.append(
                    audit_record(actor=SYSTEM, action="late", tenant_id=tenant.pk)
                )
                inserted.set()
                release.wait(10)
        finally:
            connection.close()

    thread = threading.Thread(target=slow_writer)
    thread.start()
    assert inserted.wait(10)
    with transaction.atomic(durable=True):
        early = audit_record(actor=SYSTEM, action="early", tenant_id=tenant.pk)
    release.set()
    thread.join()

    [late_event] = late
    early.refresh_from_db()
    late_event.refresh_from_db()
    assert late_event.pk < early.pk
    assert late_event.seq == early.seq + 1
    assert late_event.prev_hash == early.hash
    assert audit_chain_verify(tenant=tenant).ok


@pytest.mark.django_db(transaction=True)
def test_concurrent_sealers_cannot_fork_the_chain():
    tenant = TenantFactory()
    # Committed, unsealed events (raw SQL: nothing seals them on commit).
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO audit_auditevent (tenant_id, actor_type, actor_label, action,"
            " target_type, target_id, reason, request_id, created_at)"
            " SELECT %s, 'system', 'raw', 'raw.event', '', n::text, '', '', now()"
            " FROM generate_series(1, 400) AS n",
            [tenant.pk],
        )
    counts: list[int] = []
    errors: list[BaseException] = []
    barrier = threading.Barrier(8)

    def sealer():
        try:
            barrier.wait()
            # Every sealer keeps going until nothing is left, so they collide.
            while audit_backlog(tenant_id=tenant.pk).count:
                counts.append(audit_chain_seal(tenant_id=tenant.pk, limit=3))
        except BaseException as error:  # noqa: BLE001 (reported by the test)
            errors.append(error)
        finally:
            connection.close()

    threads = [threading.Thread(target=sealer) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert errors == []
    assert sum(counts) == 400
    assert [seq for seq, _ in chain_of(tenant)] == list(range(1, 402))
    report = audit_chain_verify(tenant=tenant)
    assert report.ok, report.broken
    assert (report.events_checked, report.unsealed) == (401, 0)


@pytest.mark.django_db
def test_verify_reports_unsealed_events_and_fails_only_when_they_are_too_old(
    clock, settings
):
    settings.AUDIT_SEAL_MAX_LAG_SECONDS = 300
    tenant = TenantFactory()
    events_write(tenant_id=tenant.pk, count=2)
    real_now = clock.now()
    clock.freeze(real_now - timedelta(seconds=120))
    audit_record(actor=SYSTEM, action="waiting", tenant_id=tenant.pk)
    clock.freeze(real_now)

    report = audit_chain_verify(tenant=tenant)
    err = io.StringIO()
    call_command(
        "audit_verify",
        "--tenant",
        tenant.slug,
        "--no-progress",
        stdout=io.StringIO(),
        stderr=err,
    )

    assert report.ok and report.events_checked == 3
    assert report.unsealed == 1
    assert 119 <= report.unsealed_age_seconds() <= 121
    assert "1 events not sealed yet (not verified); the oldest is 120 s old" in (
        err.getvalue()
    )
    settings.AUDIT_SEAL_MAX_LAG_SECONDS = 60
    with pytest.raises(CommandError, match="unsealed for more than 60 s"):
        call_command(
            "audit_verify",
            "--tenant",
            tenant.slug,
            "--no-progress",
            stdout=io.StringIO(),
            stderr=io.StringIO(),
        )
    out = io.StringIO()
    call_command("audit_seal", "--no-progress", stdout=out, stderr=io.StringIO())
    assert "sealed 1 events in 1 chains" in out.getvalue()
    call_command(
        "audit_verify",
        "--tenant",
        tenant.slug,
        "--no-progress",
        stdout=io.StringIO(),
        stderr=io.StringIO(),
    )
    assert audit_chain_verify(tenant=tenant).events_checked == 4


@pytest.mark.django_db
def test_the_sweep_seals_every_chain_with_pending_events():
    first, second = TenantFactory(), TenantFactory()
    for tenant_id in (first.pk, second.pk, None, first.pk):
        audit_record(actor=SYSTEM, action="t", tenant_id=tenant_id)

    sealed = audit_seal_pending()

    assert sealed[first.pk] == 3 and sealed[second.pk] == 2
    assert sealed[None] >= 1
    assert not AuditEvent.objects.filter(seq__isnull=True).exists()
    for tenant in (first, second, None):
        assert audit_chain_verify(tenant=tenant).ok


@pytest.mark.django_db(transaction=True)
def test_a_busy_chain_is_sealed_in_batches_and_the_sweep_seals_the_rest(settings):
    settings.AUDIT_SEAL_INTERVAL_SECONDS = 60
    tenant = TenantFactory()  # its tenant.created commit seals the chain
    player = PlayerFactory(tenant=tenant)

    for amount in (100, 200, 300):
        fund(player, amount)

    # Sealed less than a minute ago by this process: these wait for a later seal.
    pending = audit_backlog(tenant_id=tenant.pk).count
    assert pending >= 3  # the three postings (and the player's creation)
    assert audit_seal_pending()[tenant.pk] == pending
    report = audit_chain_verify(tenant=tenant)
    assert report.ok and report.unsealed == 0


@pytest.mark.django_db
def test_audit_seal_for_one_tenant_leaves_the_other_chains_alone():
    first, second = TenantFactory(), TenantFactory()
    audit_record(actor=SYSTEM, action="t", tenant_id=first.pk)
    audit_record(actor=SYSTEM, action="t", tenant_id=second.pk)

    out = io.StringIO()
    call_command(
        "audit_seal",
        "--tenant",
        first.slug,
        "--no-progress",
        stdout=out,
        stderr=io.StringIO(),
    )

    assert "sealed 2 events in 1 chains" in out.getvalue()
    assert audit_backlog(tenant_id=first.pk).count == 0
    assert audit_backlog(tenant_id=second.pk).count == 2
