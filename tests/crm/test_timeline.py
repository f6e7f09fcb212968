"""The player timeline: one order across sources, pages that neither repeat nor skip,
and a page that stays fast at 100k entries (PostgreSQL)."""

import time
from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone

from casino.models import Player
from casino.services import player_login, player_set_kyc_status
from common.actors import Actor
from crm import services
from crm.models import Note
from crm.timeline import TimelineItem, encode_cursor, player_timeline
from tests.factories import fund
from tests.payments.factories import pending_deposit
from wallet import services as wallet

pytestmark = pytest.mark.django_db
ACTOR = Actor.system("tests")


def everything(player, page_size, kinds=None):
    items, cursor = [], None
    while True:
        page = player_timeline(
            player=player, cursor=cursor, page_size=page_size, kinds=kinds
        )
        items.extend(page.items)
        cursor = page.next_cursor
        if cursor is None:
            return items


def busy_player(tenant, player):
    tag = services.tag_create(actor=ACTOR, tenant=tenant, name="vip")
    pending_deposit(player, 2_000)
    fund(player, 5_000)
    wallet.adjustment_create(
        actor=ACTOR,
        player=player,
        currency="EUR",
        amount_minor=-150,
        reason="fee refund reversed",
        idempotency_key="adj-1",
    )
    services.player_tag_add(actor=ACTOR, player=player, tag=tag)
    services.note_create(actor=ACTOR, player=player, body="first call")
    player_login(tenant=tenant, email=player.email, password="correct-horse-battery")
    player_set_kyc_status(
        actor=ACTOR, player=player, kyc_status="verified", reason="docs ok"
    )
    services.player_tag_remove(actor=ACTOR, player=player, tag=tag)
    services.note_create(actor=ACTOR, player=player, body="second call")


def test_timeline_mixes_every_source_newest_first(tenant, player):
    busy_player(tenant, player)

    items = player_timeline(player=player).items

    kinds = [i.kind for i in items]
    assert {"deposit", "adjustment", "note", "tag", "account"} <= set(kinds)
    assert [i.key for i in items] == sorted((i.key for i in items), reverse=True)
    assert items[0].detail == "second call"
    adjustment = next(i for i in items if i.kind == "adjustment")
    assert adjustment.amount == "-1.50 EUR"
    titles = " ".join(i.title for i in items)
    assert "Logged in" in titles and "KYC status changed" in titles


@pytest.mark.parametrize("page_size", [1, 2, 3, 50])
def test_paging_returns_each_entry_exactly_once(tenant, player, page_size):
    busy_player(tenant, player)
    whole = player_timeline(player=player, page_size=200).items

    paged = everything(player, page_size)

    assert [i.key for i in paged] == [i.key for i in whole]
    assert len({(i.kind, i.id) for i in paged}) == len(paged)


def test_entries_sharing_a_timestamp_are_neither_lost_nor_repeated(tenant, player):
    moment = timezone.now()
    for n in range(5):
        services.note_create(actor=ACTOR, player=player, body=f"n{n}")
    Note.objects.filter(player=player).update(created_at=moment)

    paged = everything(player, 2, kinds=["note"])

    assert sorted(i.detail for i in paged) == [f"n{n}" for n in range(5)]


def test_kind_filter_and_a_garbage_cursor(tenant, player):
    busy_player(tenant, player)

    notes = player_timeline(player=player, kinds=["note"]).items
    first = player_timeline(player=player, cursor="not-a-cursor!").items

    assert {i.kind for i in notes} == {"note"}
    assert first == player_timeline(player=player).items


def test_timeline_shows_only_this_players_entries(tenant, player):
    from tests.factories import PlayerFactory

    other = PlayerFactory(tenant=tenant, email="other@example.com")
    services.note_create(actor=ACTOR, player=other, body="not yours")
    services.note_create(actor=ACTOR, player=player, body="yours")

    assert [i.detail for i in everything(player, 10, ["note"])] == ["yours"]


@pytest.mark.postgres
def test_a_page_stays_fast_for_a_player_with_100k_entries(tenant, player):
    """100k entries over four sources, inserted in bulk (SQL), then pages read from
    the top and from deep in the history."""
    with connection.cursor() as cursor:
        cursor.execute(
            """
            INSERT INTO wallet_deposit (tenant_id, player_id, provider, currency,
                amount_minor, state, idempotency_key, request_hash,
                provider_reference, payment_reference, checkout_url,
                refunded_minor, charged_back_minor, failure_reason, needs_review,
                review_reason, created_at, updated_at)
            SELECT %s, %s, 'stripe', 'EUR', 1000 + g, 'failed', 'bench-' || g, 'x',
                '', '', '', 0, 0, '', false, '',
                now() - g * interval '1 minute', now()
            FROM generate_series(1, 40000) g
            """,
            [tenant.pk, player.pk],
        )
        cursor.execute(
            """
            INSERT INTO crm_note (tenant_id, player_id, body, pinned, author_label,
                created_at, updated_at)
            SELECT %s, %s, 'note ' || g, false, 'bench',
                now() - g * interval '47 seconds', now()
            FROM generate_series(1, 30000) g
            """,
            [tenant.pk, player.pk],
        )
        cursor.execute(
            """
            INSERT INTO crm_playertagchange (tenant_id, player_id, tag_name, action,
                actor_label, created_at)
            SELECT %s, %s, 'vip', 'added', 'bench', now() - g * interval '83 seconds'
            FROM generate_series(1, 15000) g
            """,
            [tenant.pk, player.pk],
        )
        cursor.execute(
            """
            INSERT INTO audit_auditevent (tenant_id, actor_type, actor_label, action,
                target_type, target_id, reason, request_id, created_at)
            SELECT %s, 'player', 'bench', 'player.logged_in', 'casino.Player',
                %s, '', '', now() - g * interval '97 seconds'
            FROM generate_series(1, 15000) g
            """,
            [tenant.pk, str(player.pk)],
        )
        cursor.execute("ANALYZE")

    timings = []
    cursor_value = None
    seen = 0
    for _ in range(40):
        started = time.perf_counter()
        page = player_timeline(player=player, cursor=cursor_value, page_size=50)
        timings.append(time.perf_counter() - started)
        seen += len(page.items)
        cursor_value = page.next_cursor
    deep = Player.objects.get(pk=player.pk)
    # Jump deep: a cursor 20 days back, past half of the history.
    far = encode_cursor(
        TimelineItem(timezone.now() - timedelta(days=20), 1, 10**9, "deposit", "")
    )
    started = time.perf_counter()
    deep_page = player_timeline(player=deep, cursor=far, page_size=50)
    deep_time = time.perf_counter() - started

    first, median = timings[0], sorted(timings)[len(timings) // 2]
    print(
        f"\n100k timeline: first page {first * 1000:.1f} ms, median of 40 pages "
        f"{median * 1000:.1f} ms, deep page {deep_time * 1000:.1f} ms"
    )
    assert seen == 40 * 50
    assert len(deep_page.items) == 50
    assert median < 0.25
    assert deep_time < 0.5
