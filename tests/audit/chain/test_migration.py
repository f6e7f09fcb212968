"""Migration 0005 chains the events written before the chain existed, in id order,
per tenant, and from then on the database (or Python on SQLite) links new ones;
migration 0008 switches PostgreSQL from linking at insert to sealing after commit
(and back: reversing it seals what is pending first)."""

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

from audit.models import AuditEvent
from audit.services import audit_record
from audit.verification import audit_chain_verify
from tests.audit.helpers import SYSTEM
from tests.factories import TenantFactory

pytestmark = pytest.mark.django_db(transaction=True)

BEFORE_CHAIN = [("audit", "0003_actor_user_partial_index")]


def latest() -> list[tuple[str, str]]:
    executor = MigrationExecutor(connection)
    return [key for key in executor.loader.graph.leaf_nodes() if key[0] == "audit"]


def test_existing_events_are_chained_in_id_order_and_new_ones_follow():
    first, second = TenantFactory(), TenantFactory()
    executor = MigrationExecutor(connection)
    executor.migrate(BEFORE_CHAIN)
    old_apps = executor.loader.project_state(BEFORE_CHAIN).apps
    old_event_model = old_apps.get_model("audit", "AuditEvent")
    for number, tenant_id in enumerate([first.pk, second.pk, first.pk, None, first.pk]):
        old_event_model.objects.create(
            tenant_id=tenant_id,
            actor_type="system",
            actor_label="before the chain",
            action="old.event",
            target_id=str(number),
            after={"number": number, "text": "é\n"},
        )

    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(latest())
    audit_record(actor=SYSTEM, action="new.event", tenant_id=first.pk)

    olds = AuditEvent.objects.filter(tenant=first, action="old.event").order_by("id")
    seqs = [event.seq for event in olds]
    assert seqs == sorted(seqs)
    assert seqs == list(range(seqs[0], seqs[0] + 3))
    newest = AuditEvent.objects.filter(tenant=first).order_by("-seq").first()
    assert newest.action == "new.event"
    assert newest.prev_hash == olds.last().hash
    for tenant in (first, second, None):
        report = audit_chain_verify(tenant=tenant)
        assert report.ok, report.broken


LINKED_AT_INSERT = [("audit", "0007_admin_filter_indexes")]


@pytest.mark.postgres
def test_from_linking_at_insert_to_sealing_after_commit_and_back():
    tenant = TenantFactory()
    executor = MigrationExecutor(connection)
    executor.migrate(LINKED_AT_INSERT)
    # Migration 0007's world: the insert trigger links each event as it is written.
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO audit_auditevent (tenant_id, actor_type, actor_label, action,"
            " target_type, target_id, reason, request_id, created_at)"
            " SELECT %s, 'system', 'raw', 'linked.at.insert', '', n::text, '', '',"
            " now() FROM generate_series(1, 3) AS n RETURNING seq",
            [tenant.pk],
        )
        assert None not in {row[0] for row in cursor.fetchall()}

    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(latest())
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO audit_auditevent (tenant_id, actor_type, actor_label, action,"
            " target_type, target_id, reason, request_id, created_at)"
            " VALUES (%s, 'system', 'raw', 'sealed.later', '', '', '', '', now())"
            " RETURNING seq",
            [tenant.pk],
        )
        assert cursor.fetchone()[0] is None  # inserted unsealed now

    report = audit_chain_verify(tenant=tenant)
    assert report.ok, report.broken
    assert (report.events_checked, report.unsealed) == (1 + 3, 1)

    # Back to linking at insert: the pending event is sealed first (NOT NULL again).
    executor = MigrationExecutor(connection)
    executor.migrate(LINKED_AT_INSERT)
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FILTER (WHERE seq IS NULL), max(seq)"
            " FROM audit_auditevent WHERE tenant_id = %s",
            [tenant.pk],
        )
        assert cursor.fetchone() == (0, 5)
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(latest())
    audit_record(actor=SYSTEM, action="new.event", tenant_id=tenant.pk)
    report = audit_chain_verify(tenant=tenant)
    assert report.ok, report.broken
    assert (report.events_checked, report.unsealed) == (6, 0)
