"""Writing (and sealing) events, and tampering with them the way an attacker with database access
would: the append-only triggers are bypassed for the test's own statement with
``pgtrigger.ignore`` on PostgreSQL (SQLite has no such trigger)."""

from __future__ import annotations

from contextlib import contextmanager

import pgtrigger
from django.db import connection

from audit.models import AuditEvent
from audit.sealing import audit_seal_pending
from audit.services import _link_in_python, audit_record
from common.actors import Actor

SYSTEM = Actor.system("tests")


def events_write(*, tenant_id: int | None, count: int, prefix: str = "test") -> list:
    """``count`` events of one chain, sealed (returned with their chain fields)."""
    events = [
        audit_record(
            actor=SYSTEM,
            action=f"{prefix}.event",
            tenant_id=tenant_id,
            target_type="tests.Thing",
            target_id=number,
            after={"number": number, "note": f"event {number}"},
        )
        for number in range(count)
    ]
    return sealed(*events)


def sealed(*events: AuditEvent) -> list[AuditEvent]:
    """Seal what is pending (inside a test's transaction no commit ever runs the
    on-commit seal) and reload ``events`` with their chain fields."""
    audit_seal_pending()
    for event in events:
        event.refresh_from_db()
    return list(events)


@contextmanager
def tampering():
    with pgtrigger.ignore(
        "audit.AuditEvent:audit_append_only", "audit.AuditEvent:audit_seal_only"
    ):
        yield AuditEvent.objects


def event_write_unredacted(*, tenant_id: int, after: dict) -> AuditEvent:
    """A row as an old release without today's redaction rules would have stored
    it (chained the way the database would)."""
    event = AuditEvent(
        tenant_id=tenant_id,
        actor_type="system",
        actor_label="legacy",
        action="legacy.config",
        after=after,
    )
    if connection.vendor != "postgresql":
        _link_in_python(event)
    event.save(force_insert=True)
    return sealed(event)[0]
