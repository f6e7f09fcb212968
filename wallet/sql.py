"""PostgreSQL's one-round-trip posting function (installed by migration 0002).

It does, inside the database, exactly what ``services._post_portable`` does in Python:
claim the idempotency key, refuse accounts of another tenant or currency, lock and
update the player balances in ascending id order (refusing any that would go
negative), insert the entries with balances after, and write the audit event. The
zero-sum and append-only triggers stay in force on top of it. System accounts are
never locked or updated: their balance is derived from entries.
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
