"""PostgreSQL's posting functions and the zero-sum trigger.

``wallet_post_transaction`` does, inside the database, exactly what
``wallet.services.ledger._post_portable`` does in Python: claim the idempotency key, refuse accounts
of another tenant or currency, lock and update the player balances in ascending id
order (refusing any that would go negative), insert the entries with balances after,
and write the audit event. System accounts are never locked or updated: their balance
is derived from entries.

History (a change ships as a new migration that runs ``CREATE OR REPLACE`` again; an
applied migration is never edited):

- 0002 installed the first version (kept below as ``POST_FUNCTION_0002`` so 0005 can
  be reversed).
- 0005 (ledger_fast_path) replaced it with the leaner ``POST_FUNCTION``: each player account is checked,
  locked and changed by one UPDATE (the first version read the accounts three times:
  to validate, to pick the player rows, and again for the balances after), and the
  entries and the audit event are written by one statement; about a quarter less
  backend CPU per posting. It also installed ``ENTRY_BALANCED_TRIGGER``, a plain
  deferred constraint trigger for the zero-sum check that also checks each entry's
  account (exists, same tenant and currency) in place of the foreign key, whose check
  would lock the account row (see ``Entry.account``). The zero-sum check used to be a
  pgtrigger declaration, whose generated function first calls
  ``_pgtrigger_should_ignore``, which opens a PL/pgSQL exception block (a
  subtransaction) on every call: in a bulk measurement that tripled the cost of each
  firing, and this trigger fires for every entry. The append-only triggers stay in
  pgtrigger: they fire on UPDATE and DELETE only, never on the posting path.
- 0006 (player_movement_function) added ``wallet_post_player_movement`` (credits and debits in one round trip,
  the accounts found inside the database) and ``wallet_request_hash``.
- 0007 (tenant_references_without_lock) dropped the last foreign-key constraints on
  the posting path's inserts: entry → tenant, entry → transaction and transaction →
  tenant (with audit 0002: audit event → tenant). Each check took a ``KEY SHARE``
  row lock, a WAL-logged write, and the tenant row is shared by every posting of a
  brand, so concurrent postings turned its lock into a new MultiXact each time.
  ``ENTRY_CHECK_FUNCTION`` (the entry trigger's new body) now also checks the
  entry's transaction (exists, same tenant), and a deferred constraint trigger
  (``tenants/sql.py``) checks that a transaction's or audit event's tenant exists.
  Tenants can no longer be deleted or change id (tenants 0003), so neither check
  needs a lock.
"""

POST_FUNCTION = r"""
CREATE OR REPLACE FUNCTION wallet_post_transaction(
    p_tenant_id bigint, p_kind text, p_idempotency_key text, p_request_hash text,
    p_reference text, p_description text, p_actor_type text, p_actor_user_id integer,
    p_actor_player_id bigint, p_actor_label text, p_request_id text, p_ip inet,
    p_reverses_id bigint, p_metadata jsonb,
    p_account_ids bigint[], p_amounts bigint[], p_currencies text[]
) RETURNS TABLE (status text, txn_id bigint)
LANGUAGE plpgsql AS $fn$
DECLARE
    v_txn bigint;
    v_hash text;
    v_now timestamptz := clock_timestamp();
    v_ids bigint[] := '{}';       -- the player accounts changed, ascending
    v_balances bigint[] := '{}';  -- their balance after this transaction
    v_balance bigint;
    v_kind text;
    v_tenant bigint;
    v_currency text;
    r record;
BEGIN
    -- Claim the key first: a concurrent caller with the same key waits here on the
    -- unique index until this transaction ends, then replays (or conflicts).
    INSERT INTO wallet_journaltransaction (
        tenant_id, kind, idempotency_key, request_hash, reference, description,
        actor_type, actor_user_id, actor_player_id, actor_label, request_id,
        reverses_id, metadata, created_at)
    VALUES (
        p_tenant_id, p_kind, p_idempotency_key, p_request_hash, p_reference, p_description,
        p_actor_type, p_actor_user_id, p_actor_player_id, p_actor_label, p_request_id,
        p_reverses_id, p_metadata, v_now)
    ON CONFLICT (tenant_id, idempotency_key) DO NOTHING
    RETURNING id INTO v_txn;

    IF v_txn IS NULL THEN
        SELECT t.id, t.request_hash INTO v_txn, v_hash
          FROM wallet_journaltransaction t
         WHERE t.tenant_id = p_tenant_id AND t.idempotency_key = p_idempotency_key;
        IF v_hash IS DISTINCT FROM p_request_hash THEN
            RETURN QUERY SELECT 'conflict'::text, v_txn;
        ELSE
            RETURN QUERY SELECT 'replayed'::text, v_txn;
        END IF;
        RETURN;
    END IF;

    -- Each account once, in ascending id order (the lock order: two postings that
    -- touch the same players cannot deadlock). A player row is locked and changed by
    -- one UPDATE that also checks its tenant, currency and the new balance; a row that
    -- UPDATE skips is looked up without a lock, and only a system account of this
    -- tenant and currency may be skipped. System accounts are never locked.
    FOR r IN
        SELECT u.account_id, sum(u.amount)::bigint AS delta,
               min(u.currency) AS currency, count(DISTINCT u.currency) AS currencies
          FROM unnest(p_account_ids, p_amounts, p_currencies)
               AS u(account_id, amount, currency)
         GROUP BY u.account_id
         ORDER BY u.account_id
    LOOP
        UPDATE wallet_account
           SET balance_minor = balance_minor + r.delta
         WHERE id = r.account_id
           AND kind IN ('player_available', 'player_held')
           AND tenant_id = p_tenant_id AND currency = r.currency AND r.currencies = 1
           AND balance_minor + r.delta >= 0
        RETURNING balance_minor INTO v_balance;
        IF FOUND THEN
            v_ids := v_ids || r.account_id;
            v_balances := v_balances || v_balance;
            CONTINUE;
        END IF;
        SELECT a.kind, a.tenant_id, a.currency INTO v_kind, v_tenant, v_currency
          FROM wallet_account a
         WHERE a.id = r.account_id;
        IF NOT FOUND OR v_tenant <> p_tenant_id OR v_currency <> r.currency
           OR r.currencies <> 1 THEN
            RAISE EXCEPTION 'LEDGER_ACCOUNT_MISMATCH' USING DETAIL = r.account_id::text;
        END IF;
        IF v_kind IN ('player_available', 'player_held') THEN
            RAISE EXCEPTION 'INSUFFICIENT_FUNDS' USING DETAIL = r.account_id::text;
        END IF;
    END LOOP;

    WITH entries AS (
        INSERT INTO wallet_entry (
            tenant_id, transaction_id, account_id, currency, amount_minor,
            balance_after_minor, created_at)
        SELECT p_tenant_id, v_txn, x.account_id, x.currency, x.amount,
               v_balances[array_position(v_ids, x.account_id)], v_now
          FROM unnest(p_account_ids, p_amounts, p_currencies)
               WITH ORDINALITY AS x(account_id, amount, currency, ord)
         ORDER BY x.ord
        RETURNING account_id, amount_minor, currency
    )
    INSERT INTO audit_auditevent (
        tenant_id, actor_type, actor_user_id, actor_label, action, target_type, target_id,
        before, after, reason, request_id, ip, created_at)
    SELECT p_tenant_id, p_actor_type, p_actor_user_id, p_actor_label,
           'ledger.transaction_posted', 'wallet.JournalTransaction', v_txn::text, NULL,
           jsonb_build_object(
               'kind', p_kind, 'reference', p_reference,
               'entries', jsonb_agg(jsonb_build_object(
                   'account_id', e.account_id, 'amount_minor', e.amount_minor,
                   'currency', e.currency))),
           p_description, p_request_id, p_ip, v_now
      FROM entries e;

    RETURN QUERY SELECT 'posted'::text, v_txn;
END
$fn$;
"""

# The request fingerprint, exactly as ``services._fingerprint`` computes it in Python
# (sha256 of "kind|reference|reverses|sorted account:amount parts"; "C" collation sorts
# by code point like Python's ``sorted``), for postings whose accounts the database
# resolves itself. tests/ledger/test_services.py checks that both agree.
REQUEST_HASH_FUNCTION = r"""
CREATE OR REPLACE FUNCTION wallet_request_hash(
    p_kind text, p_reference text, p_reverses_id bigint,
    p_account_ids bigint[], p_amounts bigint[]
) RETURNS text
LANGUAGE sql IMMUTABLE AS $fn$
    SELECT encode(sha256(convert_to(
        p_kind || '|' || p_reference || '|' || coalesce(p_reverses_id::text, '') || '|'
        || (SELECT string_agg(part, ',' ORDER BY part COLLATE "C")
              FROM (SELECT x.account_id::text || ':' || x.amount::text AS part
                      FROM unnest(p_account_ids, p_amounts) AS x(account_id, amount)) p),
        'UTF8')), 'hex')
$fn$;
"""

# A player credit or debit in one round trip: find the player's available account and
# the tenant's system account by what identifies them, then post through
# wallet_post_transaction. Returns ('missing', NULL) when either account does not exist
# yet; the service then creates them and posts the portable way (first use only).
# Installed by migration 0006.
MOVEMENT_FUNCTION = r"""
CREATE OR REPLACE FUNCTION wallet_post_player_movement(
    p_tenant_id bigint, p_kind text, p_idempotency_key text,
    p_reference text, p_description text, p_actor_type text, p_actor_user_id integer,
    p_actor_player_id bigint, p_actor_label text, p_request_id text, p_ip inet,
    p_metadata jsonb,
    p_player_id bigint, p_currency text, p_system_kind text, p_provider text,
    p_player_amount bigint
) RETURNS TABLE (status text, txn_id bigint)
LANGUAGE plpgsql AS $fn$
DECLARE
    v_player bigint;
    v_system bigint;
    v_ids bigint[];
    v_amounts bigint[];
BEGIN
    SELECT a.id INTO v_player FROM wallet_account a
     WHERE a.tenant_id = p_tenant_id AND a.player_id = p_player_id
       AND a.kind = 'player_available' AND a.currency = p_currency;
    SELECT a.id INTO v_system FROM wallet_account a
     WHERE a.tenant_id = p_tenant_id AND a.player_id IS NULL
       AND a.kind = p_system_kind AND a.currency = p_currency
       AND a.provider = p_provider;
    IF v_player IS NULL OR v_system IS NULL THEN
        RETURN QUERY SELECT 'missing'::text, NULL::bigint;
        RETURN;
    END IF;
    -- The same lines, in the same order, as services.player_credit / player_debit.
    IF p_player_amount > 0 THEN
        v_ids := ARRAY[v_system, v_player];
        v_amounts := ARRAY[-p_player_amount, p_player_amount];
    ELSE
        v_ids := ARRAY[v_player, v_system];
        v_amounts := ARRAY[p_player_amount, -p_player_amount];
    END IF;
    RETURN QUERY SELECT * FROM wallet_post_transaction(
        p_tenant_id, p_kind, p_idempotency_key,
        wallet_request_hash(p_kind, p_reference, NULL, v_ids, v_amounts),
        p_reference, p_description, p_actor_type, p_actor_user_id, p_actor_player_id,
        p_actor_label, p_request_id, p_ip, NULL, p_metadata,
        v_ids, v_amounts, ARRAY[p_currency, p_currency]);
END
$fn$;
"""

DROP_MOVEMENT_FUNCTIONS = r"""
DROP FUNCTION IF EXISTS wallet_post_player_movement(
    bigint, text, text, text, text, text, integer, bigint, text, text, inet, jsonb,
    bigint, text, text, text, bigint);
DROP FUNCTION IF EXISTS wallet_request_hash(text, text, bigint, bigint[], bigint[]);
"""

MOVEMENT_CALL = (
    "SELECT status, txn_id FROM wallet_post_player_movement("
    "%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)"
)

ENTRY_BALANCED_TRIGGER = r"""
CREATE OR REPLACE FUNCTION wallet_entry_transaction_balances() RETURNS trigger
LANGUAGE plpgsql AS $fn$
BEGIN
    -- In place of a foreign key (which would lock the account row): the account
    -- exists, in the entry's tenant and currency. A plain read, no lock.
    PERFORM 1 FROM wallet_account a
     WHERE a.id = NEW.account_id AND a.tenant_id = NEW.tenant_id
       AND a.currency = NEW.currency;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'LEDGER_ACCOUNT_MISMATCH'
            USING DETAIL = format('entry %s account %s', NEW.id, NEW.account_id);
    END IF;
    IF (SELECT COALESCE(SUM(amount_minor), 0) FROM wallet_entry
         WHERE transaction_id = NEW.transaction_id AND currency = NEW.currency) <> 0
    THEN
        RAISE EXCEPTION 'LEDGER_UNBALANCED_TRANSACTION'
            USING DETAIL = format('transaction %s currency %s',
                                  NEW.transaction_id, NEW.currency);
    END IF;
    RETURN NULL;
END
$fn$;

DROP TRIGGER IF EXISTS wallet_entry_transaction_balances ON wallet_entry;
CREATE CONSTRAINT TRIGGER wallet_entry_transaction_balances
    AFTER INSERT ON wallet_entry
    DEFERRABLE INITIALLY DEFERRED
    FOR EACH ROW EXECUTE FUNCTION wallet_entry_transaction_balances();
"""

# Migration 0007: the entry check also stands in for the foreign keys from entries to
# their tenant and their transaction (each FK check locked the referenced row for
# every entry). The account's tenant is the entry's tenant (and the account keeps a
# real foreign key to the tenant, so that tenant exists); the transaction exists in
# the same tenant (a check the foreign keys never made). Transactions are append-only
# and tenants are never deleted, so a row seen here stays. Same trigger, new function
# body (``ENTRY_BALANCED_TRIGGER`` above is 0005's version, kept for reversing 0007).
ENTRY_CHECK_FUNCTION = r"""
CREATE OR REPLACE FUNCTION wallet_entry_transaction_balances() RETURNS trigger
LANGUAGE plpgsql AS $fn$
DECLARE
    v_account_ok boolean;
    v_transaction_ok boolean;
    v_sum bigint;
BEGIN
    -- In place of the foreign keys (whose checks lock the referenced rows): the
    -- account exists in the entry's tenant and currency, and the transaction exists
    -- in the same tenant. Plain reads, no lock; one query for the three checks.
    SELECT EXISTS (SELECT 1 FROM wallet_account a
                    WHERE a.id = NEW.account_id AND a.tenant_id = NEW.tenant_id
                      AND a.currency = NEW.currency),
           EXISTS (SELECT 1 FROM wallet_journaltransaction t
                    WHERE t.id = NEW.transaction_id AND t.tenant_id = NEW.tenant_id),
           (SELECT COALESCE(SUM(e.amount_minor), 0) FROM wallet_entry e
             WHERE e.transaction_id = NEW.transaction_id AND e.currency = NEW.currency)
      INTO v_account_ok, v_transaction_ok, v_sum;
    IF NOT v_account_ok THEN
        RAISE EXCEPTION 'LEDGER_ACCOUNT_MISMATCH'
            USING DETAIL = format('entry %s account %s', NEW.id, NEW.account_id);
    END IF;
    IF NOT v_transaction_ok THEN
        RAISE EXCEPTION 'LEDGER_TRANSACTION_MISMATCH'
            USING DETAIL = format('entry %s transaction %s', NEW.id,
                                  NEW.transaction_id);
    END IF;
    IF v_sum <> 0 THEN
        RAISE EXCEPTION 'LEDGER_UNBALANCED_TRANSACTION'
            USING DETAIL = format('transaction %s currency %s',
                                  NEW.transaction_id, NEW.currency);
    END IF;
    RETURN NULL;
END
$fn$;
"""

DROP_ENTRY_BALANCED_TRIGGER = r"""
DROP TRIGGER IF EXISTS wallet_entry_transaction_balances ON wallet_entry;
DROP FUNCTION IF EXISTS wallet_entry_transaction_balances();
"""

POST_FUNCTION_0002 = r"""
CREATE OR REPLACE FUNCTION wallet_post_transaction(
    p_tenant_id bigint, p_kind text, p_idempotency_key text, p_request_hash text,
    p_reference text, p_description text, p_actor_type text, p_actor_user_id integer,
    p_actor_player_id bigint, p_actor_label text, p_request_id text, p_ip inet,
    p_reverses_id bigint, p_metadata jsonb,
    p_account_ids bigint[], p_amounts bigint[], p_currencies text[]
) RETURNS TABLE (status text, txn_id bigint)
LANGUAGE plpgsql AS $fn$
DECLARE
    v_txn bigint;
    v_hash text;
    v_now timestamptz := clock_timestamp();
    r record;
BEGIN
    INSERT INTO wallet_journaltransaction (
        tenant_id, kind, idempotency_key, request_hash, reference, description,
        actor_type, actor_user_id, actor_player_id, actor_label, request_id,
        reverses_id, metadata, created_at)
    VALUES (
        p_tenant_id, p_kind, p_idempotency_key, p_request_hash, p_reference, p_description,
        p_actor_type, p_actor_user_id, p_actor_player_id, p_actor_label, p_request_id,
        p_reverses_id, p_metadata, v_now)
    ON CONFLICT (tenant_id, idempotency_key) DO NOTHING
    RETURNING id INTO v_txn;

    IF v_txn IS NULL THEN
        SELECT t.id, t.request_hash INTO v_txn, v_hash
          FROM wallet_journaltransaction t
         WHERE t.tenant_id = p_tenant_id AND t.idempotency_key = p_idempotency_key;
        IF v_hash IS DISTINCT FROM p_request_hash THEN
            RETURN QUERY SELECT 'conflict'::text, v_txn;
        ELSE
            RETURN QUERY SELECT 'replayed'::text, v_txn;
        END IF;
        RETURN;
    END IF;

    IF EXISTS (
        SELECT 1
          FROM unnest(p_account_ids, p_currencies) AS x(account_id, currency)
          LEFT JOIN wallet_account a ON a.id = x.account_id
         WHERE a.id IS NULL OR a.tenant_id <> p_tenant_id OR a.currency <> x.currency
    ) THEN
        RAISE EXCEPTION 'LEDGER_ACCOUNT_MISMATCH';
    END IF;

    FOR r IN
        SELECT x.account_id, sum(x.amount)::bigint AS delta
          FROM unnest(p_account_ids, p_amounts) AS x(account_id, amount)
          JOIN wallet_account a ON a.id = x.account_id
         WHERE a.kind IN ('player_available', 'player_held')
         GROUP BY x.account_id
         ORDER BY x.account_id
    LOOP
        UPDATE wallet_account
           SET balance_minor = balance_minor + r.delta
         WHERE id = r.account_id AND balance_minor + r.delta >= 0;
        IF NOT FOUND THEN
            RAISE EXCEPTION 'INSUFFICIENT_FUNDS' USING DETAIL = r.account_id::text;
        END IF;
    END LOOP;

    INSERT INTO wallet_entry (
        tenant_id, transaction_id, account_id, currency, amount_minor,
        balance_after_minor, created_at)
    SELECT p_tenant_id, v_txn, x.account_id, x.currency, x.amount,
           CASE WHEN a.kind IN ('player_available', 'player_held') THEN a.balance_minor END,
           v_now
      FROM unnest(p_account_ids, p_amounts, p_currencies)
           WITH ORDINALITY AS x(account_id, amount, currency, ord)
      JOIN wallet_account a ON a.id = x.account_id
     ORDER BY x.ord;

    INSERT INTO audit_auditevent (
        tenant_id, actor_type, actor_user_id, actor_label, action, target_type, target_id,
        before, after, reason, request_id, ip, created_at)
    SELECT p_tenant_id, p_actor_type, p_actor_user_id, p_actor_label,
           'ledger.transaction_posted', 'wallet.JournalTransaction', v_txn::text, NULL,
           jsonb_build_object(
               'kind', p_kind, 'reference', p_reference,
               'entries', jsonb_agg(jsonb_build_object(
                   'account_id', x.account_id, 'amount_minor', x.amount,
                   'currency', x.currency))),
           p_description, p_request_id, p_ip, v_now
      FROM unnest(p_account_ids, p_amounts, p_currencies) AS x(account_id, amount, currency);

    RETURN QUERY SELECT 'posted'::text, v_txn;
END
$fn$;
"""

DROP_FUNCTION = (
    "DROP FUNCTION IF EXISTS wallet_post_transaction("
    "bigint, text, text, text, text, text, text, integer, bigint, text, text, inet, "
    "bigint, jsonb, bigint[], bigint[], text[]);"
)

CALL = (
    "SELECT status, txn_id FROM wallet_post_transaction("
    "%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)"
)
