"""Issue 13 in the admin: the player page shows limits, exclusions and flags
read-only, operators never write limits, flags are cleared with a reason, and the
review page shows the closed-loop split and the maker-checker state."""

import pytest
from django.db import transaction
from django.test import Client
from django.urls import reverse

from audit.models import AuditEvent
from casino.exclusions.services import player_self_exclusion_start
from casino.models import Player
from tests.compliance.helpers import deposit_paid
from tests.factories import OperatorFactory
from tests.withdrawals.factories import verified_player, withdrawal_requested
from wallet.compliance.deposit_limits import player_deposit_limit_set
from wallet.models import PlayerDepositLimit, PlayerRiskFlag, Withdrawal

pytestmark = pytest.mark.django_db


def operator_client(tenant):
    operator = OperatorFactory(tenants=[tenant])
    client = Client()
    client.force_login(operator)
    return client, operator


def test_the_player_page_shows_limits_exclusion_and_flags(clock):
    player = verified_player(balance_minor=0)
    with transaction.atomic():
        player_deposit_limit_set(
            player=player, currency="EUR", period="day", amount_minor=5_000
        )
        player_deposit_limit_set(
            player=player, currency="EUR", period="day", amount_minor=9_000
        )
        player_self_exclusion_start(player=player, permanent=True)
    Player.objects.filter(pk=player.pk).update(verified_name="Ann Example")
    client, _ = operator_client(player.tenant)
    html = client.get(reverse("admin:casino_player_change", args=[player.pk])).content
    html = html.decode()
    assert "Self-exclusion" in html and "permanent" in html
    assert "50.00 EUR" in html and "90.00 EUR" in html  # the limit and the pending one
    assert "No risk flags." in html


def test_an_operator_cannot_change_or_add_a_players_limit():
    player = verified_player(balance_minor=0)
    with transaction.atomic():
        player_deposit_limit_set(
            player=player, currency="EUR", period="day", amount_minor=5_000
        )
    limit = PlayerDepositLimit.objects.get()
    client, _ = operator_client(player.tenant)
    change = reverse("admin:wallet_playerdepositlimit_change", args=[limit.pk])
    response = client.post(change, {"amount_minor": 999_999})
    assert response.status_code == 403
    assert client.get(reverse("admin:wallet_playerdepositlimit_add")).status_code == 403
    limit.refresh_from_db()
    assert limit.amount_minor == 5_000


def test_clearing_a_flag_from_the_admin_asks_for_a_reason_and_audits_it():
    player = verified_player(balance_minor=0)
    deposit_paid(player, 200_000)
    flag = PlayerRiskFlag.objects.get()
    client, operator = operator_client(player.tenant)
    changelist = reverse("admin:wallet_playerriskflag_changelist")
    asked = client.post(
        changelist, {"action": "clear_flags", "_selected_action": [flag.pk]}
    )
    assert asked.status_code == 200 and "reason" in asked.content.decode()
    client.post(
        changelist,
        {
            "action": "clear_flags",
            "_selected_action": [flag.pk],
            "post": "yes",
            "reason": "source of funds verified",
        },
    )
    flag.refresh_from_db()
    assert flag.cleared_by == operator
    event = AuditEvent.objects.get(action="player.risk_flag_cleared")
    assert event.reason == "source of funds verified"


def test_the_review_page_shows_the_planned_split():
    player = verified_player(balance_minor=1_000)
    deposit_paid(player, 3_000)
    withdrawal = withdrawal_requested(player, 4_000)
    client, _ = operator_client(player.tenant)
    html = client.get(f"/admin/wallet/withdrawal/{withdrawal.pk}/change/").content
    html = html.decode()
    assert "Planned payout split" in html
    assert "Refund to deposit" in html and "30.00 EUR" in html
    assert "Bank transfer" in html and "10.00 EUR" in html


def test_two_operators_approve_a_large_withdrawal_through_the_admin():
    player = verified_player(balance_minor=1_000_000)
    withdrawal = withdrawal_requested(player, 600_000)
    maker, _ = operator_client(player.tenant)
    checker, _ = operator_client(player.tenant)
    approve = f"/admin/wallet/withdrawal/{withdrawal.pk}/approve/"
    first = maker.post(approve, follow=True).content.decode()
    assert "First approval recorded" in first
    again = maker.post(approve, follow=True).content.decode()
    assert "WITHDRAWAL_SECOND_APPROVER_REQUIRED" in again
    checker.post(approve)
    withdrawal.refresh_from_db()
    assert withdrawal.state == Withdrawal.State.PAYOUT_PENDING


def test_the_verified_name_change_is_audited_with_the_reason():
    player = verified_player(balance_minor=0)
    client, operator = operator_client(player.tenant)
    url = reverse("admin:casino_player_change", args=[player.pk])
    response = client.post(
        url,
        {
            "status": player.status,
            "kyc_status": player.kyc_status,
            "verified_name": "Ann Q Example",
            "change_reason": "passport checked",
        },
    )
    assert response.status_code == 302
    event = AuditEvent.objects.get(action="player.verified_name_changed")
    assert event.after == {"verified_name": "Ann Q Example"}
    assert event.reason == "passport checked"


def test_the_queue_filters_withdrawals_awaiting_a_second_approval():
    player = verified_player(balance_minor=2_000_000)
    waiting = withdrawal_requested(player, 600_000)
    withdrawal_requested(player, 700_000)
    maker, _ = operator_client(player.tenant)
    maker.post(f"/admin/wallet/withdrawal/{waiting.pk}/approve/")
    response = maker.get("/admin/wallet/withdrawal/?second_approval=awaiting")
    assert list(response.context["cl"].result_list) == [waiting]
