"""Time-outs (24 h to 6 weeks) and self-exclusions (6 months or more, or permanent):
in force at once, never shortened, blocking deposits, play and marketing but not
withdrawals, and across an operator's brands when it says so."""

from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import call_command
from django.db import transaction

from audit.models import AuditEvent
from casino.exceptions import ExclusionCannotBeShortened, PlayerExcluded
from casino.exclusions.selectors import (
    player_exclusion_active_get,
    player_marketable_filter,
    player_marketing_blocked,
    player_play_allowed,
)
from casino.exclusions.services import (
    months_later,
    player_self_exclusion_start,
    player_time_out_start,
)
from casino.models import Player
from casino.services import player_login
from tenants.models import Operator, Tenant
from tests.compliance.helpers import deposit_start
from tests.factories import PlayerFactory, TenantFactory
from tests.payments.conftest import simulator  # noqa: F401  (the demo pays through it)
from tests.withdrawals.factories import verified_player, withdrawal_requested
from wallet.models import Withdrawal

pytestmark = pytest.mark.django_db


def time_out(player, hours):
    with transaction.atomic():
        return player_time_out_start(player=player, hours=hours)


def self_exclude(player, months=None, permanent=False):
    with transaction.atomic():
        return player_self_exclusion_start(
            player=player, months=months, permanent=permanent
        )


def operator_with_brands(*, covers=True, count=2):
    operator = Operator.objects.create(
        slug=f"op{Operator.objects.count()}",
        name="Op",
        exclusion_covers_all_brands=covers,
    )
    brands = [TenantFactory() for _ in range(count)]
    Tenant.objects.filter(pk__in=[b.pk for b in brands]).update(operator=operator)
    return [Tenant.objects.get(pk=b.pk) for b in brands]


@pytest.mark.parametrize("hours", [23, 6 * 7 * 24 + 1, 0, -24])
def test_a_time_out_outside_24_hours_to_six_weeks_is_refused(hours):
    player = PlayerFactory()
    with pytest.raises(Exception) as refused:
        time_out(player, hours)
    assert refused.value.code == "VALIDATION_ERROR"


@pytest.mark.parametrize("hours", [24, 6 * 7 * 24])
def test_a_time_out_at_either_bound_is_accepted(hours, clock):
    player = PlayerFactory()
    exclusion = time_out(player, hours)
    assert exclusion.ends_at == clock.now() + timedelta(hours=hours)
    assert player_exclusion_active_get(player=player) == exclusion


@pytest.mark.parametrize("months", [5, 0, 61])
def test_a_self_exclusion_under_six_months_is_refused(months):
    player = PlayerFactory()
    with pytest.raises(Exception) as refused:
        self_exclude(player, months)
    assert refused.value.code == "VALIDATION_ERROR"


def test_a_six_month_self_exclusion_ends_six_calendar_months_later(clock):
    player = PlayerFactory()
    exclusion = self_exclude(player, 6)
    assert exclusion.ends_at == months_later(clock.now(), 6)


def test_months_later_clamps_to_the_end_of_a_shorter_month():
    from datetime import UTC, datetime

    start = datetime(2026, 8, 31, 12, tzinfo=UTC)
    assert months_later(start, 6) == datetime(2027, 2, 28, 12, tzinfo=UTC)


def test_a_permanent_self_exclusion_has_no_end():
    player = PlayerFactory()
    exclusion = self_exclude(player, permanent=True)
    assert exclusion.ends_at is None


def test_the_exclusion_binds_until_its_end_and_not_at_the_end_instant(clock):
    player = PlayerFactory()
    exclusion = time_out(player, 24)
    clock.freeze(exclusion.ends_at - timedelta(seconds=1))
    assert not player_play_allowed(player=player)
    clock.freeze(exclusion.ends_at)
    assert player_play_allowed(player=player)
    deposit_start(player, 1_000)


def test_an_excluded_player_cannot_deposit():
    player = PlayerFactory()
    time_out(player, 48)
    with pytest.raises(PlayerExcluded) as refused:
        deposit_start(player, 1_000)
    assert refused.value.http_status == 403
    assert refused.value.details["kind"] == "time_out"
    assert refused.value.details["withdrawals_allowed"] is True


def test_an_excluded_player_can_still_withdraw():
    player = verified_player(balance_minor=10_000)
    self_exclude(player, permanent=True)
    withdrawal = withdrawal_requested(player, 5_000)
    assert withdrawal.state in (Withdrawal.State.REQUESTED, Withdrawal.State.APPROVED)


def test_a_shorter_exclusion_cannot_replace_a_longer_one():
    player = PlayerFactory()
    time_out(player, 48)
    with pytest.raises(ExclusionCannotBeShortened):
        time_out(player, 24)


def test_nothing_shortens_a_permanent_self_exclusion():
    player = PlayerFactory()
    self_exclude(player, permanent=True)
    with pytest.raises(ExclusionCannotBeShortened):
        self_exclude(player, 60)


def test_a_longer_exclusion_extends_a_time_out():
    player = PlayerFactory()
    time_out(player, 24)
    longer = self_exclude(player, 6)
    assert player_exclusion_active_get(player=player) == longer


def test_log_in_still_works_but_is_recorded_without_play(clock):
    player = PlayerFactory(email="ex@example.com")
    self_exclude(player, 6)
    with transaction.atomic():
        player_login(
            tenant=player.tenant,
            email="ex@example.com",
            password="correct-horse-battery",
        )
    event = AuditEvent.objects.get(action="player.logged_in")
    assert event.after == {"play_allowed": False}


def test_starting_an_exclusion_is_audited_as_the_player():
    player = PlayerFactory()
    exclusion = time_out(player, 24)
    event = AuditEvent.objects.get(action="player.time_out_started")
    assert event.actor_label == f"player:{player.pk}"
    assert event.after["exclusion_id"] == exclusion.pk


def test_an_operator_wide_exclusion_reaches_the_same_email_on_a_sibling_brand():
    first, second = operator_with_brands(covers=True)
    here = PlayerFactory(tenant=first, email="Sam@Example.com")
    there = PlayerFactory(tenant=second, email="sam@example.com")
    self_exclude(here, 6)
    assert not player_play_allowed(player=there)
    with pytest.raises(PlayerExcluded):
        deposit_start(there, 1_000)


def test_without_the_operator_setting_a_sibling_brand_is_not_reached():
    first, second = operator_with_brands(covers=False)
    here = PlayerFactory(tenant=first, email="sam@example.com")
    there = PlayerFactory(tenant=second, email="sam@example.com")
    self_exclude(here, 6)
    assert player_play_allowed(player=there)


def test_another_operators_brand_is_never_reached():
    (first,) = operator_with_brands(covers=True, count=1)
    (other,) = operator_with_brands(covers=True, count=1)
    here = PlayerFactory(tenant=first, email="sam@example.com")
    elsewhere = PlayerFactory(tenant=other, email="sam@example.com")
    self_exclude(here, 6)
    assert player_play_allowed(player=elsewhere)


def test_marketing_skips_excluded_players_here_and_on_sibling_brands():
    first, second = operator_with_brands(covers=True)
    excluded_here = PlayerFactory(tenant=second, email="a@example.com")
    PlayerFactory(tenant=first, email="b@example.com")
    excluded_via_sibling = PlayerFactory(tenant=second, email="b@example.com")
    free = PlayerFactory(tenant=second, email="c@example.com")
    time_out(excluded_here, 24)
    self_exclude(Player.objects.get(tenant=first, email="b@example.com"), 6)

    marketable = player_marketable_filter(Player.objects.all(), tenant_id=second.pk)

    assert list(marketable) == [free]
    assert player_marketing_blocked(player=excluded_via_sibling)
    assert not player_marketing_blocked(player=free)


def test_marketing_resumes_after_the_end(clock):
    player = PlayerFactory()
    exclusion = time_out(player, 24)
    clock.freeze(exclusion.ends_at)
    assert list(
        player_marketable_filter(Player.objects.all(), tenant_id=player.tenant_id)
    ) == [player]


@pytest.mark.usefixtures("simulator")
def test_the_demo_brands_share_exclusions_through_their_operator():
    call_command("seed_demo", stdout=StringIO())
    on_aurora = Player.objects.get(tenant__slug="aurora", email="alice@example.com")
    on_nebula = Player.objects.get(tenant__slug="nebula", email="alice@example.com")
    time_out(on_aurora, 24)
    assert not player_play_allowed(player=on_nebula)
