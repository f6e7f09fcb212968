"""Chain the events written before the hash chain existed, then let PostgreSQL link
every new one.

Existing events are chained per tenant (and the platform chain) in id order, with the
same canonical form the trigger and the verifier use (audit/chain.py). On PostgreSQL
the table is locked against writers for the duration (the append-only trigger is
disabled only inside this transaction), and the ``audit_chain_link`` trigger is
installed before the lock is released, so no event escapes the chain."""

from django.db import migrations

from audit import chain, sql

APPEND_ONLY_TRIGGER = "pgtrigger_audit_append_only_f6eda"
BATCH = 1000


def link_existing(apps, schema_editor):
    AuditEvent = apps.get_model("audit", "AuditEvent")
    on_postgres = schema_editor.connection.vendor == "postgresql"
    if on_postgres:
        schema_editor.execute(
            "LOCK TABLE audit_auditevent IN SHARE ROW EXCLUSIVE MODE; "
            f"ALTER TABLE audit_auditevent DISABLE TRIGGER {APPEND_ONLY_TRIGGER};"
        )
    heads: dict[int | None, tuple[int, str]] = {}
    pending = []
    rows = AuditEvent.objects.order_by("id").only("id", *chain.ChainFields.NAMES)
    for event in rows.iterator(chunk_size=BATCH):
        seq, prev_hash = heads.get(event.tenant_id, (0, chain.GENESIS_HASH))
        fields = chain.ChainFields(
            **{name: getattr(event, name) for name in chain.ChainFields.NAMES}
        )
        event.seq = seq + 1
        event.prev_hash = prev_hash
        event.hash = chain.event_digest(fields, seq=event.seq, prev_hash=prev_hash)
        heads[event.tenant_id] = (event.seq, event.hash)
        pending.append(event)
        if len(pending) >= BATCH:
            AuditEvent.objects.bulk_update(pending, ["seq", "prev_hash", "hash"])
            pending = []
    if pending:
        AuditEvent.objects.bulk_update(pending, ["seq", "prev_hash", "hash"])
    if on_postgres:
        schema_editor.execute(
            f"ALTER TABLE audit_auditevent ENABLE TRIGGER {APPEND_ONLY_TRIGGER};"
        )
        schema_editor.execute(sql.CANONICAL_JSON_FUNCTION, params=None)
        schema_editor.execute(sql.CHAIN_LINK_FUNCTION, params=None)
        schema_editor.execute(sql.CHAIN_LINK_TRIGGER, params=None)


def unlink(apps, schema_editor):
    # The columns themselves go when 0004 is reversed.
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(sql.DROP_CHAIN_LINK, params=None)


class Migration(migrations.Migration):
    dependencies = [
        ("audit", "0004_event_hash_chain_fields"),
    ]

    operations = [
        migrations.RunPython(link_existing, unlink),
    ]
