import re

import pytest
from django.urls import reverse

from audit.models import AuditEvent
from casino.models import Player
from wallet.models import JournalTransaction
from wallet.selectors import balance_list

pytestmark = pytest.mark.django_db

TOKEN = re.compile(r'name="token" value="([0-9a-f]{32})"')


def adjust_url(player) -> str:
    return reverse("admin:casino_player_adjust", args=[player.pk])


def rendered_token(client, player) -> str:
    return TOKEN.search(client.get(adjust_url(player)).content.decode()).group(1)


def available_eur(player) -> int:
    return next(b.available_minor for b in balance_list(player=player))


def test_player_page_shows_balances_holds_and_recent_ledger(brand_a):
    response = brand_a.client.get(
        reverse("admin:casino_player_change", args=[brand_a.player.pk])
    )

    html = response.content.decode()
    # 100.00 deposit + 2.50 adjustment - 100.00 reversal + 50.00 deposit - 10.00 held
    assert "42.50 EUR" in html  # available
    assert "10.00 EUR" in html  # held, and the pending hold
    assert "52.50 EUR" in html  # total
    assert reverse("admin:wallet_hold_change", args=[brand_a.hold.pk]) in html
    assert "Operator adjustment" in html
    assert "Reversal" in html
    assert f"?account__player__id__exact={brand_a.player.pk}" in html


def test_player_full_ledger_link_lists_only_that_players_lines(brand_a):
    response = brand_a.client.get(
        reverse("admin:wallet_entry_changelist"),
        {"account__player__id__exact": brand_a.player.pk},
    )

    entries = list(response.context["cl"].queryset)
    assert entries
    assert {e.account.player_id for e in entries} == {brand_a.player.pk}


def test_adjustment_double_submit_posts_once(brand_a):
    before = available_eur(brand_a.player)
    form = {
        "direction": "credit",
        "currency": "EUR",
        "amount": "12.34",
        "reason": "compensation for outage",
        "token": rendered_token(brand_a.client, brand_a.player),
    }

    first = brand_a.client.post(adjust_url(brand_a.player), form)
    second = brand_a.client.post(adjust_url(brand_a.player), form, follow=True)

    assert first.status_code == 302
    assert available_eur(brand_a.player) == before + 1234
    assert (
        JournalTransaction.objects.filter(
            tenant=brand_a.tenant, description="compensation for outage"
        ).count()
        == 1
    )
    assert "already posted" in second.content.decode()


def test_adjustment_is_recorded_with_the_operator_and_reason(brand_a):
    form = {
        "direction": "debit",
        "currency": "EUR",
        "amount": "1.00",
        "reason": "duplicate bonus",
        "token": rendered_token(brand_a.client, brand_a.player),
    }

    brand_a.client.post(adjust_url(brand_a.player), form)

    txn = JournalTransaction.objects.get(description="duplicate bonus")
    assert txn.kind == JournalTransaction.Kind.ADJUSTMENT
    assert txn.actor_user == brand_a.operator
    assert sorted(txn.entries.values_list("amount_minor", flat=True)) == [-100, 100]


def test_each_rendered_adjustment_form_has_its_own_key(brand_a):
    assert rendered_token(brand_a.client, brand_a.player) != rendered_token(
        brand_a.client, brand_a.player
    )


def test_adjustment_without_reason_is_refused_and_posts_nothing(brand_a):
    before = JournalTransaction.objects.count()
    form = {
        "direction": "credit",
        "currency": "EUR",
        "amount": "5.00",
        "reason": "   ",
        "token": rendered_token(brand_a.client, brand_a.player),
    }

    response = brand_a.client.post(adjust_url(brand_a.player), form)

    assert response.status_code == 200
    assert "reason" in response.context["form"].errors
    assert JournalTransaction.objects.count() == before


def test_adjustment_debit_beyond_balance_shows_the_domain_error(brand_a):
    form = {
        "direction": "debit",
        "currency": "EUR",
        "amount": "1000.00",
        "reason": "too much",
        "token": rendered_token(brand_a.client, brand_a.player),
    }

    response = brand_a.client.post(adjust_url(brand_a.player), form, follow=True)

    assert "INSUFFICIENT_FUNDS" in response.content.decode()
    assert not JournalTransaction.objects.filter(description="too much").exists()


def test_adjustment_with_too_many_decimals_shows_invalid_amount(brand_a):
    form = {
        "direction": "credit",
        "currency": "EUR",
        "amount": "1.005",
        "reason": "odd cents",
        "token": rendered_token(brand_a.client, brand_a.player),
    }

    response = brand_a.client.post(adjust_url(brand_a.player), form, follow=True)

    assert "INVALID_AMOUNT" in response.content.decode()


def test_adjustment_action_sends_one_selected_player_to_the_form(brand_a):
    response = brand_a.client.post(
        reverse("admin:casino_player_changelist"),
        {"action": "adjust_balance", "_selected_action": [brand_a.player.pk]},
    )

    assert response.status_code == 302
    assert response["Location"] == adjust_url(brand_a.player)


def test_block_action_asks_for_a_reason_first(brand_a):
    response = brand_a.client.post(
        reverse("admin:casino_player_changelist"),
        {"action": "block_players", "_selected_action": [brand_a.player.pk]},
    )

    assert response.status_code == 200
    assert "reason" in response.content.decode()
    brand_a.player.refresh_from_db()
    assert brand_a.player.status == Player.Status.ACTIVE


def test_block_action_blocks_and_audits_with_the_reason(brand_a):
    brand_a.client.post(
        reverse("admin:casino_player_changelist"),
        {
            "action": "block_players",
            "_selected_action": [brand_a.player.pk],
            "post": "yes",
            "reason": "chargeback fraud suspected",
        },
    )

    brand_a.player.refresh_from_db()
    assert brand_a.player.status == Player.Status.BLOCKED
    event = AuditEvent.objects.filter(action="player.status_changed").first()
    assert event.reason == "chargeback fraud suspected"
    assert event.actor_user == brand_a.operator
    assert (event.before, event.after) == ({"status": "active"}, {"status": "blocked"})


def test_block_action_cannot_reach_another_brands_player(brand_a, brand_b):
    brand_a.client.post(
        reverse("admin:casino_player_changelist"),
        {
            "action": "block_players",
            "_selected_action": [brand_b.player.pk],
            "post": "yes",
            "reason": "reaching across brands",
        },
    )

    brand_b.player.refresh_from_db()
    assert brand_b.player.status == Player.Status.ACTIVE


def change_form(player, **changes) -> dict:
    data = {"status": player.status, "kyc_status": player.kyc_status}
    data.update(changes)
    return data


def test_kyc_change_in_the_form_needs_a_reason(brand_a):
    response = brand_a.client.post(
        reverse("admin:casino_player_change", args=[brand_a.player.pk]),
        change_form(brand_a.player, kyc_status="verified"),
    )

    assert response.status_code == 200
    brand_a.player.refresh_from_db()
    assert brand_a.player.kyc_status == "unverified"


def test_kyc_change_in_the_form_is_audited(brand_a):
    response = brand_a.client.post(
        reverse("admin:casino_player_change", args=[brand_a.player.pk]),
        change_form(
            brand_a.player, kyc_status="verified", change_reason="passport checked"
        ),
    )

    assert response.status_code == 302
    brand_a.player.refresh_from_db()
    assert brand_a.player.kyc_status == "verified"
    event = AuditEvent.objects.get(action="player.kyc_status_changed")
    assert event.after == {"kyc_status": "verified"}
    assert event.reason == "passport checked"


def test_operator_cannot_change_email_or_password_through_the_form(brand_a):
    old_password = brand_a.player.password
    brand_a.client.post(
        reverse("admin:casino_player_change", args=[brand_a.player.pk]),
        change_form(
            brand_a.player,
            email="thief@example.com",
            password="x",
            change_reason="",
        ),
    )

    brand_a.player.refresh_from_db()
    assert brand_a.player.email == "alpha-player@example.com"
    assert brand_a.player.password == old_password


def test_nobody_adds_or_deletes_players_in_the_admin(brand_a, superuser_client):
    add = superuser_client.get(reverse("admin:casino_player_add"))
    delete = superuser_client.get(
        reverse("admin:casino_player_delete", args=[brand_a.player.pk])
    )

    assert (add.status_code, delete.status_code) == (403, 403)


def test_player_search_by_full_email_and_by_id(brand_a):
    changelist = reverse("admin:casino_player_changelist")

    by_email = brand_a.client.get(changelist, {"q": "ALPHA-player@example.com"})
    by_id = brand_a.client.get(changelist, {"q": str(brand_a.player.pk)})

    assert list(by_email.context["cl"].queryset) == [brand_a.player]
    assert list(by_id.context["cl"].queryset) == [brand_a.player]


def test_player_list_query_count_does_not_grow_with_rows(
    brand_a, django_assert_max_num_queries
):
    from tests.factories import PlayerFactory

    changelist = reverse("admin:casino_player_changelist")
    with django_assert_max_num_queries(12) as few:
        brand_a.client.get(changelist)
    for n in range(10):
        PlayerFactory(tenant=brand_a.tenant, email=f"extra{n}@example.com")

    with django_assert_max_num_queries(len(few.captured_queries)):
        brand_a.client.get(changelist)
