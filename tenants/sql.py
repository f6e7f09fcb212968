"""PostgreSQL: the check that replaces the foreign keys to ``tenants_tenant`` on the
ledger's hot insert tables (journal transactions and audit events; entries are
covered through their account, see wallet/sql.py).

A foreign key's check takes a ``FOR KEY SHARE`` lock on the referenced row for every
insert. Every posting of a brand references the same tenant row, so concurrent
postings kept turning that row's lock into a new MultiXact, and each lock is a
WAL-logged write to the tenant's heap page. This deferred constraint trigger checks the
same thing (the tenant exists) with a plain read, no lock; it is sound because a
tenant can never be deleted nor change its id (the ``tenant_no_delete`` and
``tenant_id_frozen`` triggers on ``Tenant``), so a tenant seen once stays.

Installed by tenants migration 0003; the triggers that call it are created by the
migrations that drop each foreign key (wallet 0007, audit 0002).
"""

TENANT_EXISTS_FUNCTION = r"""
CREATE OR REPLACE FUNCTION tenant_reference_exists() RETURNS trigger
LANGUAGE plpgsql AS $fn$
BEGIN
    PERFORM 1 FROM tenants_tenant t WHERE t.id = NEW.tenant_id;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'TENANT_NOT_FOUND'
            USING DETAIL = format('%s %s: tenant %s', TG_TABLE_NAME, NEW.id,
                                  NEW.tenant_id);
    END IF;
    RETURN NULL;
END
$fn$;
"""

DROP_TENANT_EXISTS_FUNCTION = "DROP FUNCTION IF EXISTS tenant_reference_exists();"


def tenant_exists_trigger(*, table: str, name: str) -> str:
    """The deferred constraint trigger on ``table`` (rows with a tenant only)."""
    return f"""
DROP TRIGGER IF EXISTS {name} ON {table};
CREATE CONSTRAINT TRIGGER {name}
    AFTER INSERT ON {table}
    DEFERRABLE INITIALLY DEFERRED
    FOR EACH ROW WHEN (NEW.tenant_id IS NOT NULL)
    EXECUTE FUNCTION tenant_reference_exists();
"""


def drop_tenant_exists_trigger(*, table: str, name: str) -> str:
    return f"DROP TRIGGER IF EXISTS {name} ON {table};"
