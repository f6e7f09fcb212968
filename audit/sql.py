"""PostgreSQL: the audit trail's hash chain, sealed after commit.

Events are inserted unlinked (``seq``, ``prev_hash`` and ``hash`` NULL), with no lock
on the insert path: the ledger's posting functions, ``audit_record`` and raw SQL only
append a row. ``audit_chain_seal(tenant_id, limit)`` links them later, in its own short
transaction (``audit.sealing`` calls it right after the commit of every transaction that
wrote events, and a sweep catches whatever that missed):

1. it takes the chain's transaction-scoped advisory lock (two keys: ``LOCK_CLASS`` and
   the tenant id, 0 for the platform chain of events without a tenant), so two
   sealers of one chain take turns and can never both extend the same head;
2. reads the head (the highest sealed ``seq``; after a retention prune removed every
   row, the latest checkpoint; else 0 and the genesis hash);
3. walks the chain's unsealed events in id order (only committed rows are visible to
   it: each statement of a PL/pgSQL function takes a new snapshot, after the lock) and
   sets ``seq``, ``prev_hash`` and ``hash`` of each, the hash computed here from the
   canonical form of ``audit/chain.py``;
4. returns how many it sealed (at most ``limit``; a sweep calls again until fewer).

With ``wait`` false (the after-commit call) it does not queue behind a sealer already
at work on the chain: it returns NULL at once. That sealer, or the next commit's, or
the sweep, seals the event; writers of a busy brand never wait for each other there
either.

The chain's order is therefore the sealing order: an event whose transaction commits
after a later-numbered one was sealed gets the next ``seq`` when it is sealed, not a
place by id. Writers never wait for the lock; a sealer holds it for the few
milliseconds its UPDATEs take. The seal transaction commits with
``synchronous_commit = off``: a seal lost in a crash leaves its (durable) events
unsealed again, and the next sealer seals them anew.

The append-only triggers (``audit.models``) refuse every DELETE and every UPDATE but
one: the seal (``SEAL_ONLY``), the three chain columns from NULL to values, every
other column unchanged.
``audit_insert_unsealed`` (a BEFORE INSERT trigger whose WHEN clause is false for every
normal insert, so it costs nothing there) drops chain values a raw INSERT tries to set.

History:

- migration 0005 (hash_chain_link_existing_events) installed ``audit_canonical_json``
  and the BEFORE INSERT trigger ``audit_chain_link`` (kept below as
  ``CHAIN_LINK_FUNCTION``/``CHAIN_LINK_TRIGGER``), which linked each event at insert
  under the same advisory lock, held until the writer committed: every posting of a
  brand waited for the previous one's commit (eight writers of one brand: ~3.5x fewer
  postings/s).
- migration 0008 (seal_after_commit) dropped that trigger and installed
  ``SEAL_FUNCTION`` and ``INSERT_UNSEALED_FUNCTION``.
- migration 0009 (seal_ip_as_host) reinstalled ``SEAL_FUNCTION`` hashing the client IP
  as ``host(ip)``: ``inet::text`` carries the netmask (``127.0.0.1/32``) where the
  verifier (Python, ``audit/chain.py``) reads ``127.0.0.1``, so every sealed event with
  an IP (any request: webhooks, the API, the admin) failed verification.
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
            coalesce(to_json(host(NEW.ip))::text, 'null')
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

# --- 0008: sealing after commit ------------------------------------------------------

SEAL_FUNCTION = r"""
CREATE OR REPLACE FUNCTION audit_chain_seal(
    p_tenant_id bigint, p_limit integer DEFAULT 5000, p_wait boolean DEFAULT true
) RETURNS integer
LANGUAGE plpgsql AS $fn$
DECLARE
    v_seq bigint;
    v_prev text;
    v_hash text;
    v_count integer := 0;
    v_events refcursor;
    e audit_auditevent%ROWTYPE;
BEGIN
    IF p_wait THEN
        PERFORM pg_advisory_xact_lock(
            1635083380, (coalesce(p_tenant_id, 0) % 2147483648)::integer);
    ELSIF NOT pg_try_advisory_xact_lock(
            1635083380, (coalesce(p_tenant_id, 0) % 2147483648)::integer) THEN
        RETURN NULL;  -- another sealer of this chain is at work
    END IF;
    -- Derived data: a seal lost in a crash is redone by the next sealer.
    PERFORM set_config('synchronous_commit', 'off', true);

    IF p_tenant_id IS NULL THEN
        SELECT a.seq, a.hash INTO v_seq, v_prev
          FROM audit_auditevent a
         WHERE a.tenant_id IS NULL AND a.seq IS NOT NULL
         ORDER BY a.seq DESC LIMIT 1;
    ELSE
        SELECT a.seq, a.hash INTO v_seq, v_prev
          FROM audit_auditevent a
         WHERE a.tenant_id = p_tenant_id AND a.seq IS NOT NULL
         ORDER BY a.seq DESC LIMIT 1;
    END IF;
    IF NOT FOUND THEN
        SELECT c.seq, c.hash INTO v_seq, v_prev
          FROM audit_auditcheckpoint c
         WHERE c.tenant_id IS NOT DISTINCT FROM p_tenant_id
         ORDER BY c.seq DESC LIMIT 1;
        IF NOT FOUND THEN
            v_seq := 0;
            v_prev := repeat('0', 64);
        END IF;
    END IF;

    IF p_tenant_id IS NULL THEN
        OPEN v_events FOR
            SELECT * FROM audit_auditevent a
             WHERE a.tenant_id IS NULL AND a.seq IS NULL
             ORDER BY a.id LIMIT p_limit;
    ELSE
        OPEN v_events FOR
            SELECT * FROM audit_auditevent a
             WHERE a.tenant_id = p_tenant_id AND a.seq IS NULL
             ORDER BY a.id LIMIT p_limit;
    END IF;
    LOOP
        FETCH v_events INTO e;
        EXIT WHEN NOT FOUND;
        v_hash := encode(sha256(convert_to(
            '[' || concat_ws(',',
                '"audit-v1"',
                coalesce(e.tenant_id::text, 'null'),
                (v_seq + 1)::text,
                to_json(v_prev)::text,
                to_json(to_char(e.created_at AT TIME ZONE 'UTC',
                                'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'))::text,
                coalesce(to_json(e.actor_type)::text, 'null'),
                coalesce(e.actor_user_id::text, 'null'),
                coalesce(to_json(e.actor_label)::text, 'null'),
                coalesce(to_json(e.action)::text, 'null'),
                coalesce(to_json(e.target_type)::text, 'null'),
                coalesce(to_json(e.target_id)::text, 'null'),
                audit_canonical_json(e.before),
                audit_canonical_json(e.after),
                coalesce(to_json(e.reason)::text, 'null'),
                coalesce(to_json(e.request_id)::text, 'null'),
                coalesce(to_json(host(e.ip))::text, 'null')
            ) || ']', 'UTF8')), 'hex');
        UPDATE audit_auditevent
           SET seq = v_seq + 1, prev_hash = v_prev, hash = v_hash
         WHERE id = e.id AND seq IS NULL;
        -- Sealed meanwhile by someone not holding the lock (a raw UPDATE): stop
        -- rather than leave a gap; the verifier reports what that writer did.
        EXIT WHEN NOT FOUND;
        v_seq := v_seq + 1;
        v_prev := v_hash;
        v_count := v_count + 1;
    END LOOP;
    CLOSE v_events;
    RETURN v_count;
END
$fn$;
"""

DROP_SEAL_FUNCTION = (
    "DROP FUNCTION IF EXISTS audit_chain_seal(bigint, integer, boolean);"
)

DROP_CHAIN_LINK_TRIGGER = """
DROP TRIGGER IF EXISTS audit_chain_link ON audit_auditevent;
DROP FUNCTION IF EXISTS audit_chain_link();
"""

# Inserted rows are always unsealed: chain values sent by a client (raw SQL) are
# dropped, so nobody can pre-empt a sequence number the sealer will take. A plain
# trigger (no pgtrigger ignore wrapper: it fires on every insert of the posting path).
INSERT_UNSEALED_FUNCTION = r"""
CREATE OR REPLACE FUNCTION audit_insert_unsealed() RETURNS trigger
LANGUAGE plpgsql AS $fn$
BEGIN
    NEW.seq := NULL;
    NEW.prev_hash := NULL;
    NEW.hash := NULL;
    RETURN NEW;
END
$fn$;
DROP TRIGGER IF EXISTS audit_insert_unsealed ON audit_auditevent;
CREATE TRIGGER audit_insert_unsealed
    BEFORE INSERT ON audit_auditevent
    FOR EACH ROW WHEN (NEW.seq IS NOT NULL OR NEW.prev_hash IS NOT NULL
                       OR NEW.hash IS NOT NULL)
    EXECUTE FUNCTION audit_insert_unsealed();
"""

DROP_INSERT_UNSEALED = """
DROP TRIGGER IF EXISTS audit_insert_unsealed ON audit_auditevent;
DROP FUNCTION IF EXISTS audit_insert_unsealed();
"""
