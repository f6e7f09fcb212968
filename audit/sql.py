"""PostgreSQL: the audit trail's hash chain, linked by the database on every insert.

``audit_chain_link`` is a BEFORE INSERT trigger on ``audit_auditevent``. It serialises
the writers of one chain (one tenant, or the platform chain of events without a
tenant) with a transaction-scoped advisory lock keyed by the tenant, reads the chain's
head (the tenant's highest ``seq``; after a retention prune that removed every row, the
latest checkpoint), and fills ``seq``, ``prev_hash`` and ``hash`` of the new row,
overriding whatever the client sent. The lock is released at commit or rollback, so a
second writer of the same tenant waits at most for the rest of the first writer's
transaction and then sees its committed row: two writers can never take the same
``seq`` (and the unique ``(tenant, seq)`` indexes would refuse it if they did). Writers
of different tenants never wait for each other. An advisory lock writes nothing (no
row version, no WAL), unlike a chain-head row updated per event.

Because it is a trigger, every writer is chained the same way: ``audit_record`` through
the ORM, the ledger's PL/pgSQL posting functions (``wallet/sql.py``) and raw SQL.
``audit_canonical_json`` and the canonical form are specified in ``audit/chain.py``,
whose Python implementation the verifier uses.

History: installed by audit migration 0005 (hash_chain_link_existing_events).
"""

#: First argument of the two-key advisory lock (written literally in the function
#: below): "audt" in ASCII. The two-key and the one-key (bigint) lock spaces never
#: overlap; the second key is the tenant id (0: the platform chain).
LOCK_CLASS = 0x61756474  # 1635083380

CANONICAL_JSON_FUNCTION = r"""
CREATE OR REPLACE FUNCTION audit_canonical_json(j jsonb) RETURNS text
LANGUAGE plpgsql IMMUTABLE AS $fn$
DECLARE
    v_type text := jsonb_typeof(j);
    v_number numeric;
    v_out text;
BEGIN
    IF j IS NULL OR v_type = 'null' THEN
        RETURN 'null';
    ELSIF v_type = 'string' THEN
        RETURN to_json(j #>> '{}')::text;
    ELSIF v_type = 'number' THEN
        v_number := (j #>> '{}')::numeric;
        IF v_number = trunc(v_number) THEN
            RETURN trunc(v_number)::text;
        END IF;
        RETURN rtrim(v_number::text, '0');
    ELSIF v_type = 'boolean' THEN
        RETURN j::text;
    ELSIF v_type = 'array' THEN
        SELECT '[' || coalesce(string_agg(audit_canonical_json(a.value), ','
                                          ORDER BY a.ord), '') || ']'
          INTO v_out
          FROM jsonb_array_elements(j) WITH ORDINALITY AS a(value, ord);
        RETURN v_out;
    END IF;
    -- object: keys by code point (UTF-8 byte order, the "C" collation)
    SELECT '{' || coalesce(string_agg(to_json(o.key)::text || ':'
                                      || audit_canonical_json(o.value), ','
                                      ORDER BY o.key COLLATE "C"), '') || '}'
      INTO v_out
      FROM jsonb_each(j) AS o;
    RETURN v_out;
END
$fn$;
"""

CHAIN_LINK_FUNCTION = r"""
CREATE OR REPLACE FUNCTION audit_chain_link() RETURNS trigger
LANGUAGE plpgsql AS $fn$
DECLARE
    v_seq bigint;
    v_prev text;
BEGIN
    PERFORM pg_advisory_xact_lock(
        1635083380, (coalesce(NEW.tenant_id, 0) % 2147483648)::integer);

    IF NEW.tenant_id IS NULL THEN
        SELECT e.seq, e.hash INTO v_seq, v_prev
          FROM audit_auditevent e
         WHERE e.tenant_id IS NULL
         ORDER BY e.seq DESC LIMIT 1;
    ELSE
        SELECT e.seq, e.hash INTO v_seq, v_prev
          FROM audit_auditevent e
         WHERE e.tenant_id = NEW.tenant_id
         ORDER BY e.seq DESC LIMIT 1;
    END IF;
    IF NOT FOUND THEN
        SELECT c.seq, c.hash INTO v_seq, v_prev
          FROM audit_auditcheckpoint c
         WHERE c.tenant_id IS NOT DISTINCT FROM NEW.tenant_id
         ORDER BY c.seq DESC LIMIT 1;
        IF NOT FOUND THEN
            v_seq := 0;
            v_prev := repeat('0', 64);
        END IF;
    END IF;

    NEW.seq := v_seq + 1;
    NEW.prev_hash := v_prev;
    NEW.hash := encode(sha256(convert_to(
        '[' || concat_ws(',',
            '"audit-v1"',
            coalesce(NEW.tenant_id::text, 'null'),
            NEW.seq::text,
            to_json(NEW.prev_hash)::text,
            to_json(to_char(NEW.created_at AT TIME ZONE 'UTC',
                            'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'))::text,
            coalesce(to_json(NEW.actor_type)::text, 'null'),
            coalesce(NEW.actor_user_id::text, 'null'),
            coalesce(to_json(NEW.actor_label)::text, 'null'),
            coalesce(to_json(NEW.action)::text, 'null'),
            coalesce(to_json(NEW.target_type)::text, 'null'),
            coalesce(to_json(NEW.target_id)::text, 'null'),
            audit_canonical_json(NEW.before),
            audit_canonical_json(NEW.after),
            coalesce(to_json(NEW.reason)::text, 'null'),
            coalesce(to_json(NEW.request_id)::text, 'null'),
            coalesce(to_json(NEW.ip::text)::text, 'null')
        ) || ']', 'UTF8')), 'hex');
    RETURN NEW;
END
$fn$;
"""

CHAIN_LINK_TRIGGER = """
DROP TRIGGER IF EXISTS audit_chain_link ON audit_auditevent;
CREATE TRIGGER audit_chain_link
    BEFORE INSERT ON audit_auditevent
    FOR EACH ROW EXECUTE FUNCTION audit_chain_link();
"""

DROP_CHAIN_LINK = """
DROP TRIGGER IF EXISTS audit_chain_link ON audit_auditevent;
DROP FUNCTION IF EXISTS audit_chain_link();
DROP FUNCTION IF EXISTS audit_canonical_json(jsonb);
"""
