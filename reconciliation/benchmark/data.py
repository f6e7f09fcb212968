"""A large brand beside a small one, generated in SQL for the admin-pages benchmark.

PostgreSQL only, and only for a scratch database: rows are written with
``generate_series`` in a few statements (the ORM would take hours), with triggers
off for the session (``session_replication_role = replica``; the data is balanced by
construction: each deposit is one journal transaction with two entries summing to
zero, and each player's cached balance is the sum of its entries). Shape of a brand
at scale ``players``: ``players`` players with one EUR account each, five deposits
per player (each a journal transaction and two entries: 10 entries per player),
eleven audit events per player, a withdrawal per five players, findings.

``bench_admin_pages`` builds ``bench-big`` (100,000 players: 1,000,000 entries,
1,100,000 audit events, 500,000 deposits, 20,000 withdrawals and findings) and
``bench-1k`` (100 players: 1,000 entries, 1,100 audit events, 150 withdrawals and
findings: at least a full page everywhere), or reuses them when they exist.
"""

from __future__ import annotations

from django.db import connection, transaction

from common.actors import Actor
from tenants.models import Tenant
from tenants.services import tenant_create

DEPOSITS_PER_PLAYER = 5
AUDIT_PER_PLAYER = 11
LISTED_AT_LEAST = 150

STEPS = [
    (
        "players",
        """
        INSERT INTO casino_player (tenant_id, email, password, display_name, status,
                                   kyc_status, withdrawals_frozen, created_at)
        SELECT %(t)s, 'p' || g || '@' || %(slug)s || '.bench', '!', 'Player ' || g,
               CASE WHEN g %% 50 = 0 THEN 'blocked' ELSE 'active' END,
               CASE WHEN g %% 3 = 0 THEN 'pending' ELSE 'verified' END, false,
               now() - make_interval(days => (g %% 365)::int)
          FROM generate_series(1, %(players)s) g
        """,
    ),
    (
        "accounts",
        """
        INSERT INTO wallet_account (tenant_id, kind, currency, player_id, provider,
                                    balance_minor, created_at)
        SELECT %(t)s, 'player_available', 'EUR', id, '', 0, created_at
          FROM casino_player WHERE tenant_id = %(t)s
        UNION ALL
        SELECT %(t)s, k, 'EUR', NULL, 'stripe', 0, now()
          FROM unnest(ARRAY['psp_clearing', 'fees']) k
        """,
    ),
    (
        "journal transactions",
        """
        INSERT INTO wallet_journaltransaction (tenant_id, kind, idempotency_key,
            request_hash, reference, description, actor_type, actor_label,
            request_id, metadata, created_at)
        SELECT %(t)s, 'deposit', 'bench:deposit:' || g, '', 'deposit:' || g, '',
               'psp', 'stripe', '', '{}'::jsonb,
               now() - make_interval(secs => ((%(deposits)s - g) * 31536000.0
                                              / %(deposits)s))
          FROM generate_series(1, %(deposits)s) g
        """,
    ),
    (
        "deposits",
        """
        WITH players AS (
            SELECT id, row_number() OVER (ORDER BY id) - 1 AS n
              FROM casino_player WHERE tenant_id = %(t)s
        )
        INSERT INTO wallet_deposit (tenant_id, player_id, provider, currency,
            amount_minor, state, idempotency_key, request_hash, provider_reference,
            payment_reference, checkout_url, refunded_minor, charged_back_minor,
            failure_reason, needs_review, review_reason, created_at, updated_at,
            completed_at, credit_transaction_id)
        SELECT %(t)s, p.id, 'stripe', 'EUR', 1000 + (j.id * 37) %% 9000, 'completed',
               j.idempotency_key, '', 'cs_bench_' || j.id,
               'pi_bench_' || %(slug)s || '_' || j.id, '', 0, 0, '', false, '',
               j.created_at, j.created_at, j.created_at, j.id
          FROM wallet_journaltransaction j
          JOIN players p
            ON p.n = (substr(j.idempotency_key, 15)::bigint %% %(players)s)
         WHERE j.tenant_id = %(t)s AND j.kind = 'deposit'
        """,
    ),
    (
        "entries",
        """
        WITH credits AS (
            SELECT d.credit_transaction_id AS txn, a.id AS account, d.amount_minor,
                   d.completed_at
              FROM wallet_deposit d
              JOIN wallet_account a
                ON a.player_id = d.player_id AND a.kind = 'player_available'
             WHERE d.tenant_id = %(t)s
        ), clearing AS (
            SELECT id FROM wallet_account
             WHERE tenant_id = %(t)s AND kind = 'psp_clearing' AND player_id IS NULL
        )
        INSERT INTO wallet_entry (tenant_id, transaction_id, account_id, currency,
                                  amount_minor, balance_after_minor, created_at)
        SELECT %(t)s, txn, account, 'EUR', amount_minor,
               SUM(amount_minor) OVER (PARTITION BY account ORDER BY txn),
               completed_at
          FROM credits
        UNION ALL
        SELECT %(t)s, txn, clearing.id, 'EUR', -amount_minor, NULL, completed_at
          FROM credits, clearing
        """,
    ),
    (
        "balances",
        """
        UPDATE wallet_account a SET balance_minor = s.total
          FROM (SELECT account_id, SUM(amount_minor) AS total FROM wallet_entry
                 WHERE tenant_id = %(t)s GROUP BY account_id) s
         WHERE a.id = s.account_id AND a.player_id IS NOT NULL
        """,
    ),
    (
        "audit events",
        """
        INSERT INTO audit_auditevent (tenant_id, actor_type, actor_label, action,
            target_type, target_id, before, after, reason, request_id, created_at)
        SELECT %(t)s, 'system', 'bench',
               (ARRAY['ledger.posted', 'deposit.completed', 'player.status_changed',
                      'withdrawal.requested'])[1 + g %% 4],
               'casino.Player', (g %% %(players)s)::text, NULL, '{}'::jsonb, '', '',
               now() - make_interval(secs => ((%(audit)s - g) * 31536000.0
                                              / %(audit)s))
          FROM generate_series(1, %(audit)s) g
        """,
    ),
    (
        "withdrawals",
        """
        WITH players AS (
            SELECT id, row_number() OVER (ORDER BY id) - 1 AS n
              FROM casino_player WHERE tenant_id = %(t)s
        )
        INSERT INTO wallet_withdrawal (tenant_id, player_id, currency, amount_minor,
            state, idempotency_key, request_hash, destination_encrypted,
            destination_masked, auto_approved, rejection_reason, requested_at,
            updated_at)
        SELECT %(t)s, p.id, 'EUR', 500 + g %% 5000,
               (ARRAY['requested', 'approved', 'paid', 'rejected',
                      'payout_pending'])[1 + g %% 5],
               'bench:w:' || g, '', '', 'DE89 **** 3000', false, '',
               now() - make_interval(hours => (g %% 200)::int), now()
          FROM generate_series(1, %(listed)s) g
          JOIN players p ON p.n = g %% %(players)s
        """,
    ),
    (
        "findings",
        """
        INSERT INTO wallet_finding (tenant_id, code, severity, source, object_type,
            object_ref, details, status, first_seen_at, last_seen_at, times_seen,
            resolution_reason)
        SELECT %(t)s, (ARRAY['amount_mismatch', 'missing_at_psp',
                             'unknown_record_type'])[1 + g %% 3],
               (ARRAY['critical', 'warning', 'info'])[1 + g %% 3], 'reconcile_psp',
               'deposit', 'bench:' || g, '{}'::jsonb,
               CASE WHEN g %% 4 = 0 THEN 'resolved' ELSE 'open' END, now(), now(), 1,
               ''
          FROM generate_series(1, %(listed)s) g
        """,
    ),
]


TABLES = {
    "players": "casino_player",
    "accounts": "wallet_account",
    "journal transactions": "wallet_journaltransaction",
    "deposits": "wallet_deposit",
    "entries": "wallet_entry",
    "balances": "wallet_account",
    "audit events": "audit_auditevent",
    "withdrawals": "wallet_withdrawal",
    "findings": "wallet_finding",
}


def bench_tenant_build(*, slug: str, players: int, progress=None) -> Tenant:
    """Create the brand ``slug`` at scale ``players``, or return it when it exists."""
    existing = Tenant.objects.filter(slug=slug).first()
    if existing is not None:
        return existing
    if connection.vendor != "postgresql":
        raise RuntimeError("the benchmark data set is generated on PostgreSQL only")
    with transaction.atomic(durable=True):
        tenant = tenant_create(
            actor=Actor.system("bench"), slug=slug, name=f"Bench {slug}"
        )
        params = {
            "t": tenant.pk,
            "slug": slug,
            "players": players,
            "deposits": players * DEPOSITS_PER_PLAYER,
            "audit": players * AUDIT_PER_PLAYER,
            # Withdrawals and findings: a fifth of the players, and at least a full
            # changelist page (100) so that both brands render the same page.
            "listed": max(players // 5, LISTED_AT_LEAST),
        }
        with connection.cursor() as cursor:
            cursor.execute("SET LOCAL session_replication_role = replica")
            for name, sql in STEPS:
                cursor.execute(sql, params)
                # Fresh statistics for the next step's joins: without them the
                # planner sees the tables it just filled as empty.
                cursor.execute(f"ANALYZE {TABLES[name]}")  # noqa: S608 (constants)
                if progress:
                    progress(name)
    with connection.cursor() as cursor:
        # As autovacuum would: visibility maps set, so index-only scans are.
        cursor.execute(
            "VACUUM ANALYZE casino_player, wallet_account, wallet_journaltransaction,"
            " wallet_entry, wallet_deposit, audit_auditevent, wallet_withdrawal,"
            " wallet_finding"
        )
    return tenant
